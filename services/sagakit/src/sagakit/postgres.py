"""The unit of work on Postgres: state change, outbox rows and inbox row commit together."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sagakit.domain import Aggregate
from sagakit.events import Envelope
from sagakit.tables import MessagingTables
from sagakit.tracing import continue_saga, outgoing_headers
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
        self._context: dict[str, str] = {}
        self._after_commit: list[Callable[[], None]] = []

    @property
    def trace_headers(self) -> dict[str, str]:
        """The W3C headers of the context this transaction runs in."""
        return self._context

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (for metrics, not for state)."""
        self._after_commit.append(callback)

    def track(self, aggregate: Aggregate) -> None:
        """Remember the aggregate; a new one belongs to the saga whose context is current."""
        if not aggregate.saga_context:
            aggregate.saga_context = self._context
        super().track(aggregate)

    async def _begin(self) -> None:
        # The context this transaction runs in: the incoming message's, the request's, or new.
        self._context = outgoing_headers()
        self._after_commit = []
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

    async def _commit(self, outgoing: list[tuple[Envelope, Aggregate]]) -> None:
        if outgoing:
            contexts: dict[int, dict[str, str]] = {}
            rows = [
                _outbox_row(envelope, contexts.setdefault(id(owner), self._headers(owner)))
                for envelope, owner in outgoing
            ]
            await self.connection.execute(insert(self._tables.outbox), rows)
        await self.connection.commit()
        if outgoing and self._on_commit is not None:
            self._on_commit()
        for callback in self._after_commit:
            callback()

    def _headers(self, aggregate: Aggregate) -> dict[str, str]:
        # Handling a message: continue the message's trace. A command (HTTP request) on
        # an aggregate that already belongs to a saga: continue the saga's trace.
        if self.causation is not None or not aggregate.saga_context:
            return self._context
        if aggregate.saga_context is self._context:
            return self._context  # created in this very transaction
        return continue_saga(aggregate.saga_context, f"{self.producer} continues the saga")

    async def _end(self) -> None:
        await self.connection.rollback()
        await self.connection.close()


def _outbox_row(envelope: Envelope, headers: dict[str, str]) -> dict[str, object]:
    return {
        "event_id": envelope.event_id,
        "event_type": envelope.event_type.value,
        "booking_id": envelope.booking_id,
        "body": envelope.model_dump_json(),
        "headers": headers,
    }
