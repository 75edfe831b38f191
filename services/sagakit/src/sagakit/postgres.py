"""The unit of work on Postgres: state change, outbox rows and inbox row commit together."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import JSON, Uuid, bindparam, column, insert, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.selectable import TextualSelect

from sagakit.domain import Aggregate
from sagakit.events import Envelope
from sagakit.idempotency import Answer, Claim, KeyReused, Replayed
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
        on_change: Callable[[set[uuid.UUID]], None] | None = None,
    ) -> None:
        super().__init__(producer)
        self._engine = engine
        self._tables = tables
        self._on_commit = on_commit  # wakes the relay when outbox rows were written
        self._on_change = on_change  # tells waiting requests which bookings changed
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
        if self.read_only:
            await self.connection.execution_options(isolation_level="AUTOCOMMIT")
        else:
            await self.connection.begin()
        self._open_repositories(self.connection)

    def _open_repositories(self, connection: AsyncConnection) -> None:
        """Subclasses create their repositories on the transaction's connection."""

    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        result = await self.connection.execute(self.inbox_insert(consumer, envelope))
        return result.scalar_one_or_none() is not None

    def inbox_insert(self, consumer: str, envelope: Envelope) -> TextualSelect:
        """INSERT of the inbox row, RETURNING its event id only if it was not there yet."""
        values = {
            "consumer": consumer,
            "event_id": envelope.event_id,
            "event_type": envelope.event_type.value,
        }
        return _INBOX_INSERT.bindparams(**values)

    async def _claim_key(self, claim: Claim) -> None:
        # The INSERT waits while a transaction holding the same key is open, then either
        # inserts (that one rolled back) or finds its committed row: a key is used once.
        where = {"scope": claim.scope, "key": claim.key}
        while True:
            values = {**where, "request_hash": claim.fingerprint}
            if (await self.connection.execute(_KEY_INSERT, values)).first() is not None:
                return
            row = (await self.connection.execute(_KEY_SELECT, where)).first()
            if row is None:
                continue  # purged in between: the key is free again
            if row.request_hash != claim.fingerprint:
                raise KeyReused(claim.key)
            raise Replayed(Answer(row.status_code, row.response, row.headers))

    async def _store_answer(self, claim: Claim, answer: Answer | None) -> None:
        where = {"scope": claim.scope, "key": claim.key}
        if answer is None:
            await self.connection.execute(_KEY_DELETE, where)
            return
        values = {"status_code": answer.status, "response": answer.body}
        await self.connection.execute(_KEY_ANSWER, {**where, **values, "headers": answer.headers})

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
        if self._on_change is not None:
            changed = {envelope.booking_id for envelope, _ in outgoing}
            if self.causation is not None:
                changed.add(self.causation.booking_id)
            self._on_change(changed)
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


# Plain SQL on purpose: SQLAlchemy 2.0 cannot cache the compiled form of a statement
# with `on_conflict_do_nothing()`, and this one runs for every incoming event. The
# table is the `inbox` that `sagakit.tables.messaging_tables` gives every service.
_INBOX_INSERT = (
    text(
        "INSERT INTO inbox (consumer, event_id, event_type)"
        " VALUES (:consumer, :event_id, :event_type)"
        " ON CONFLICT DO NOTHING RETURNING event_id"
    )
    .bindparams(bindparam("event_id", type_=Uuid))
    .columns(column("event_id", Uuid))
)

# The table is the `idempotency_keys` of `sagakit.tables.idempotency_table`.
_KEY_INSERT = text(
    "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (:scope, :key, :request_hash)"
    " ON CONFLICT DO NOTHING RETURNING key"
)
_KEY_SELECT = text(
    "SELECT request_hash, status_code, response, headers FROM idempotency_keys"
    " WHERE scope = :scope AND key = :key"
)  # psycopg reads json and jsonb as Python values
_KEY_ANSWER = text(
    "UPDATE idempotency_keys SET status_code = :status_code, response = :response,"
    " headers = :headers WHERE scope = :scope AND key = :key"
).bindparams(bindparam("response", type_=JSON), bindparam("headers", type_=JSONB))
_KEY_DELETE = text("DELETE FROM idempotency_keys WHERE scope = :scope AND key = :key")


def _outbox_row(envelope: Envelope, headers: dict[str, str]) -> dict[str, object]:
    return {
        "event_id": envelope.event_id,
        "event_type": envelope.event_type.value,
        "booking_id": envelope.booking_id,
        "body": envelope.model_dump_json(),
        "headers": headers,
    }
