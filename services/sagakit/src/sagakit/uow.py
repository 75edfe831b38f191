"""Unit of work: one transaction holding the state change, its outbox rows and its inbox row.

Handlers use it the same way in every service:

    async with uow:
        booking = await uow.bookings.get(event.booking_id)
        booking.approve()
        await uow.commit()

Entering the unit of work for an incoming event records the event in the
inbox first; if it was already handled, entering raises `AlreadyProcessed`
and the handler never runs. Committing turns every event the touched
aggregates raised into an outbox row in the same transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sagakit.domain import Aggregate
from sagakit.events import Envelope
from sagakit.tables import MessagingTables


class AlreadyProcessed(Exception):
    """The incoming event was handled before; nothing to do."""


class AbstractUnitOfWork(abc.ABC):
    """The transaction boundary seen by handlers; concrete classes bring repositories."""

    def __init__(self, producer: str) -> None:
        self.producer = producer
        self.seen: list[Aggregate] = []
        self.causation: Envelope | None = None
        self.consumer = ""

    def handling(self, envelope: Envelope, consumer: str) -> Self:
        """Bind the unit of work to an incoming event so entering it dedupes via the inbox."""
        self.causation = envelope
        self.consumer = consumer
        return self

    async def __aenter__(self) -> Self:
        self.seen = []
        await self._begin()
        if self.causation is not None and not await self._record_inbox(
            self.consumer, self.causation
        ):
            await self._end()
            raise AlreadyProcessed(str(self.causation.event_id))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._end()

    def track(self, aggregate: Aggregate) -> None:
        """Remember an aggregate so its events are stored when the transaction commits."""
        if all(seen is not aggregate for seen in self.seen):
            self.seen.append(aggregate)

    async def commit(self) -> None:
        """Commit the state change together with the events it raised."""
        causation_id = self.causation.event_id if self.causation else None
        envelopes = [
            Envelope.wrap(event, self.producer, causation_id)
            for aggregate in self.seen
            for event in aggregate.events
        ]
        await self._commit(envelopes)
        for aggregate in self.seen:
            aggregate.events.clear()

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        """Insert the inbox row; False when the event was already there."""

    @abc.abstractmethod
    async def _commit(self, envelopes: list[Envelope]) -> None: ...

    @abc.abstractmethod
    async def _end(self) -> None:
        """Roll back whatever was not committed and release the connection."""


class SqlUnitOfWork(AbstractUnitOfWork):
    """Postgres implementation; services subclass it to open their repositories."""

    connection: AsyncConnection

    def __init__(
        self,
        engine: AsyncEngine,
        tables: MessagingTables,
        producer: str,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(producer)
        self._engine = engine
        self._tables = tables
        self._on_commit = on_commit

    async def _begin(self) -> None:
        self.connection = await self._engine.connect()
        await self.connection.begin()
        self._open_repositories(self.connection)

    def _open_repositories(self, connection: AsyncConnection) -> None:
        """Subclasses create their repositories on the transaction's connection."""

    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        statement = (
            pg_insert(self._tables.inbox)
            .values(
                consumer=consumer,
                event_id=envelope.event_id,
                event_type=envelope.event_type.value,
            )
            .on_conflict_do_nothing()
            .returning(self._tables.inbox.c.event_id)
        )
        result = await self.connection.execute(statement)
        return result.scalar_one_or_none() is not None

    async def _commit(self, envelopes: list[Envelope]) -> None:
        if envelopes:
            await self.connection.execute(
                insert(self._tables.outbox), [_outbox_row(envelope) for envelope in envelopes]
            )
        await self.connection.commit()
        if envelopes and self._on_commit is not None:
            self._on_commit()

    async def _end(self) -> None:
        await self.connection.rollback()
        await self.connection.close()


def _outbox_row(envelope: Envelope) -> dict[str, object]:
    return {
        "event_id": envelope.event_id,
        "event_type": envelope.event_type.value,
        "booking_id": envelope.booking_id,
        "body": envelope.model_dump_json(),
        "headers": {},
    }
