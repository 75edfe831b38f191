"""The unit of work on Postgres: state change, outbox rows and inbox row commit together.

Every statement (inbox, outbox, idempotency keys, the repositories') runs on the
transaction's psycopg connection (sagakit.sql), checked out of SQLAlchemy's pool
(sagakit.transactions). A unit of work can
also join a `Batch`: the handlers of several incoming events then share one
transaction, one outbox insert and one commit (sagakit.consumer's batch path).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Self

from sqlalchemy import JSON, Uuid, bindparam, column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from sagakit.domain import Aggregate
from sagakit.events import Envelope
from sagakit.idempotency import Answer, Claim, KeyReused, Replayed
from sagakit.sql import Query, Sql
from sagakit.tables import MessagingTables
from sagakit.tracing import continue_saga, outgoing_headers
from sagakit.transactions import (
    Batch,
    OnCommit,
    commit,
    committed,
    insert_outbox,
    open_connection,
    release,
)
from sagakit.uow import AbstractUnitOfWork, AlreadyProcessed, Arrival


class SqlUnitOfWork(AbstractUnitOfWork):
    """Postgres implementation; services subclass it to open their repositories."""

    connection: PoolProxiedConnection

    def __init__(
        self,
        engine: AsyncEngine,
        tables: MessagingTables,
        producer: str,
        on_commit: OnCommit | None = None,
        on_change: Callable[[set[uuid.UUID]], None] | None = None,
    ) -> None:
        super().__init__(producer)
        self._engine = engine
        self._tables = tables
        self._on_commit = on_commit  # wakes the relay when outbox rows were written
        self._on_change = on_change  # tells waiting requests which bookings changed
        self._context: dict[str, str] = {}
        self._after_commit: list[Callable[[], None]] = []
        self._batch: Batch | None = None
        self.sql: Sql

    def batch(self) -> Batch:
        """A transaction several incoming events share (see `joining`)."""
        return Batch(self._engine, self._on_commit, self._on_change)

    def joining(self, batch: Batch) -> Self:
        """Bind the unit of work to a batch's transaction for one `async with` block:
        entering opens no connection, committing stages the outbox rows in the batch."""
        self._batch = batch
        return self

    async def admit(self, batch: Batch, consumer: str, arrivals: list[Arrival]) -> set[uuid.UUID]:
        """Record a batch's events in the inbox with one statement on the batch's
        connection; what a subclass writes with each row (`_record_inbox_many`) joins
        the batch too, and its after-commit callbacks run when the batch commits."""
        self.connection, self.sql = batch.connection, batch.sql
        self._after_commit = batch.callbacks
        self._open_repositories()
        try:
            return await self._record_inbox_many(consumer, _distinct(arrivals))
        finally:
            self._after_commit = []

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
        if self._batch is not None:
            self.connection, self.sql = self._batch.connection, self._batch.sql
        else:
            # No BEGIN of our own: psycopg sends it with the first statement.
            self.connection, self.sql = await open_connection(self._engine)
            if self.read_only or self.one_statement:  # no BEGIN, COMMIT or ROLLBACK
                await self.sql.connection.set_autocommit(True)
        self._open_repositories()

    def _open_repositories(self) -> None:
        """Subclasses create their repositories on the transaction's connection (`sql`)."""

    async def record_only(self) -> None:
        """The inbox insert (with what `_record_inbox` writes in the same statement) is
        atomic by itself: run it in autocommit, without BEGIN and COMMIT round trips.
        Nothing else changes, so no waiting request is woken. In a batch it simply
        runs in the batch's transaction."""
        causation, consumer = self.causation, self.consumer
        if self._batch is not None or causation is None:
            await super().record_only()
            return
        self._context = outgoing_headers()
        self._after_commit = []
        self.connection, self.sql = await open_connection(self._engine)
        try:
            await self.sql.connection.set_autocommit(True)
            try:
                self._open_repositories()
                fresh = await self._record_inbox(consumer, causation)
            finally:
                await self.sql.connection.set_autocommit(False)
        finally:
            await release(self.connection, self.sql)
            self._unbind()
        if not fresh:
            raise AlreadyProcessed(str(causation.event_id))
        for callback in self._after_commit:
            callback()

    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        values = {
            "consumer": consumer,
            "event_id": envelope.event_id,
            "event_type": envelope.event_type.value,
        }
        return await self.sql.fetch_one(_INBOX_QUERY, values) is not None

    async def _record_inbox_many(self, consumer: str, arrivals: list[Arrival]) -> set[uuid.UUID]:
        """`_record_inbox` for several events (distinct ids) in one statement: the new ids.
        Subclasses that write more with the inbox row (booking's journal) override both."""
        envelopes = [envelope for envelope, _ in arrivals]
        if len(envelopes) == 1:
            fresh = await self._record_inbox(consumer, envelopes[0])
            return {envelopes[0].event_id} if fresh else set()
        values = {
            "consumer": consumer,
            "event_ids": [envelope.event_id for envelope in envelopes],
            "event_types": [envelope.event_type.value for envelope in envelopes],
        }
        return {row["event_id"] for row in await self.sql.fetch_all(_INBOX_MANY, values)}

    async def _claim_key(self, claim: Claim) -> None:
        # The INSERT waits while a transaction holding the same key is open, then either
        # inserts (that one rolled back) or finds its committed row: a key is used once.
        where = {"scope": claim.scope, "key": claim.key}
        while True:
            values = {**where, "request_hash": claim.fingerprint}
            if await self.sql.fetch_one(_KEY_INSERT, values) is not None:
                return
            row = await self.sql.fetch_one(_KEY_SELECT, where)
            if row is None:
                continue  # purged in between: the key is free again
            if row["request_hash"] != claim.fingerprint:
                raise KeyReused(claim.key)
            raise Replayed(Answer(row["status_code"], row["response"], row["headers"]))

    async def _store_answer(self, claim: Claim, answer: Answer | None) -> None:
        where = {"scope": claim.scope, "key": claim.key}
        if answer is None:
            await self.sql.execute(_KEY_DELETE, where)
            return
        values = {"status_code": answer.status, "response": answer.body}
        await self.sql.execute(_KEY_ANSWER, {**where, **values, "headers": answer.headers})

    async def _commit(self, outgoing: list[tuple[Envelope, Aggregate]]) -> None:
        contexts: dict[int, dict[str, str]] = {}
        rows = [
            _outbox_row(envelope, contexts.setdefault(id(owner), self._headers(owner)))
            for envelope, owner in outgoing
        ]
        changed = {envelope.booking_id for envelope, _ in outgoing}
        if self.causation is not None:
            changed.add(self.causation.booking_id)
        if self._batch is not None:  # the batch commits, once, for all its handlers
            self._batch.rows += rows
            self._batch.changed |= changed
            self._batch.callbacks += self._after_commit
            return
        await insert_outbox(self.sql, rows)
        await commit(self.connection, self.sql)
        committed(rows, changed, self._after_commit, self._on_commit, self._on_change)

    def _headers(self, aggregate: Aggregate) -> dict[str, str]:
        # Handling a message: continue the message's trace. A command (HTTP request) on
        # an aggregate that already belongs to a saga: continue the saga's trace.
        if self.causation is not None or not aggregate.saga_context:
            return self._context
        if aggregate.saga_context is self._context:
            return self._context  # created in this very transaction
        return continue_saga(aggregate.saga_context, f"{self.producer} continues the saga")

    async def _end(self) -> None:
        if self._batch is not None:
            self._batch = None  # the batch's owner rolls back and releases
            return
        try:
            if self.read_only or self.one_statement:
                await self.sql.connection.set_autocommit(False)
        finally:
            await release(self.connection, self.sql)


_INBOX_QUERY = Query(
    text(
        "INSERT INTO inbox (consumer, event_id, event_type)"
        " VALUES (:consumer, :event_id, :event_type)"
        " ON CONFLICT DO NOTHING RETURNING event_id"
    )
    .bindparams(bindparam("event_id", type_=Uuid))
    .columns(column("event_id", Uuid))
)
_INBOX_MANY = Query(
    text(
        "INSERT INTO inbox (consumer, event_id, event_type)"
        " SELECT :consumer, * FROM unnest(CAST(:event_ids AS uuid[]),"
        " CAST(:event_types AS varchar[]))"
        " ON CONFLICT DO NOTHING RETURNING event_id"
    ).columns(column("event_id", Uuid))
)
# The table is the `idempotency_keys` of `sagakit.tables.idempotency_table`.
_KEY_INSERT = Query(
    text(
        "INSERT INTO idempotency_keys (scope, key, request_hash)"
        " VALUES (:scope, :key, :request_hash) ON CONFLICT DO NOTHING RETURNING key"
    )
)
_KEY_SELECT = Query(
    text(
        "SELECT request_hash, status_code, response, headers FROM idempotency_keys"
        " WHERE scope = :scope AND key = :key"
    )
)  # psycopg reads json and jsonb as Python values
_KEY_ANSWER = Query(
    text(
        "UPDATE idempotency_keys SET status_code = :status_code, response = :response,"
        " headers = :headers WHERE scope = :scope AND key = :key"
    ).bindparams(bindparam("response", type_=JSON), bindparam("headers", type_=JSONB))
)
_KEY_DELETE = Query(text("DELETE FROM idempotency_keys WHERE scope = :scope AND key = :key"))


def _distinct(arrivals: list[Arrival]) -> list[Arrival]:
    """The arrivals without repeated event ids (a batch may hold one event twice)."""
    first: dict[uuid.UUID, Arrival] = {}
    for arrival in arrivals:
        first.setdefault(arrival[0].event_id, arrival)
    return list(first.values())


def _outbox_row(envelope: Envelope, headers: dict[str, str]) -> dict[str, object]:
    return {
        "event_id": envelope.event_id,
        "event_type": envelope.event_type.value,
        "booking_id": envelope.booking_id,
        "body": envelope.model_dump_json(),
        "headers": headers,
    }
