"""The unit of work on Postgres: state change, outbox rows and inbox row commit together."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sagakit.events import Envelope
from sagakit.tables import MessagingTables
from sagakit.uow import AbstractUnitOfWork


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
