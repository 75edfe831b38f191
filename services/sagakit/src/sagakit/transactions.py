"""Transactions on the pool's connections: open, commit, release, and a batch's shared one.

A connection comes from SQLAlchemy's pool (one budget per process, its checkout and
reconnect rules) as the pool's own handle, without SQLAlchemy's `Connection` around it,
and is used through psycopg (sagakit.sql): psycopg opens a transaction with the first
statement, `commit` ends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Self

from psycopg import AsyncConnection as AsyncPgConnection
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from sagakit.outbox import OutboxMessage
from sagakit.sql import Query, Sql

OnCommit = Callable[[list[OutboxMessage]], None]
"""Called with the outbox rows a commit wrote (the relay publishes them)."""


async def open_connection(engine: AsyncEngine) -> tuple[PoolProxiedConnection, Sql]:
    """A pooled connection (the pool's handle), and its psycopg connection for compiled
    statements. The pool's checkout rules apply (its size, its timeout, reconnecting
    after a lost connection: sagakit.db); SQLAlchemy's `Connection` around it, which the
    statements never use, cost a third of a checkout's CPU (~10 µs)."""
    pooled = await engine.raw_connection()
    driver: AsyncPgConnection[Any] | None = pooled.driver_connection
    assert driver is not None  # a pooled connection that is open
    return pooled, Sql(driver)


async def commit(connection: PoolProxiedConnection, sql: Sql) -> None:
    """Commit the transaction psycopg opened with the first statement (none: no-op)."""
    await sql.connection.commit()


async def release(connection: PoolProxiedConnection, sql: Sql) -> None:
    """Roll back what was not committed (no round trip when nothing is open) and give the
    connection back to the pool, which resets it (a connection found dead there is
    dropped, and so are the ones opened before it: sagakit.db)."""
    try:
        if sql.connection.info.transaction_status != TransactionStatus.IDLE:
            await sql.connection.rollback()
    finally:
        await greenlet_spawn(connection.close)


class Batch:
    """One transaction shared by the handlers of a batch of incoming events.

    Units of work joined to it (`SqlUnitOfWork.joining`) write on its connection; their
    commits stage outbox rows and callbacks here; `commit()` inserts every staged row in
    one statement and commits once. If one handler fails, the caller rolls the whole
    batch back (leaving the block) and handles its events one by one.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        on_commit: OnCommit | None,
        on_change: Callable[[set[uuid.UUID]], None] | None,
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._on_change = on_change
        self.rows: list[dict[str, Any]] = []
        self.changed: set[uuid.UUID] = set()
        self.callbacks: list[Callable[[], None]] = []

    async def __aenter__(self) -> Self:
        self.connection, self.sql = await open_connection(self._engine)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await release(self.connection, self.sql)

    async def commit(self) -> None:
        """Insert the staged outbox rows and commit; then wake the relay and the waiters."""
        await insert_outbox(self.sql, self.rows)
        await commit(self.connection, self.sql)
        committed(self.rows, self.changed, self.callbacks, self._on_commit, self._on_change)


def committed(
    rows: list[dict[str, Any]],
    changed: set[uuid.UUID],
    callbacks: list[Callable[[], None]],
    on_commit: OnCommit | None,
    on_change: Callable[[set[uuid.UUID]], None] | None,
) -> None:
    """What follows a commit: wake the relay (rows were written), tell the waiting
    requests which bookings changed, run the transaction's callbacks (metrics)."""
    if rows and on_commit is not None:
        on_commit([_message(row) for row in rows])
    if on_change is not None:
        on_change(changed)
    for callback in callbacks:
        callback()


def _message(row: dict[str, Any]) -> OutboxMessage:
    return OutboxMessage(row["event_type"], str(row["event_id"]), row["body"], row["headers"])


async def insert_outbox(sql: Sql, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows in one statement: one row as plain values (most transactions
    raise one event), more as one array per column. The arrays cost psycopg ~60 µs more
    CPU to build and send, for one row, than the values."""
    if not rows:
        return
    if len(rows) == 1:
        await sql.execute(_OUTBOX_INSERT_ONE, {**rows[0], "headers": Jsonb(rows[0]["headers"])})
        return
    await sql.execute(
        _OUTBOX_INSERT,
        {
            "event_ids": [row["event_id"] for row in rows],
            "event_types": [row["event_type"] for row in rows],
            "booking_ids": [row["booking_id"] for row in rows],
            "bodies": [row["body"] for row in rows],
            "headers": [Jsonb(row["headers"]) for row in rows],
        },
    )


# The `inbox` that `sagakit.tables.messaging_tables` gives every service.

# The outbox of `sagakit.tables.messaging_tables`: one row, or a batch's rows in one statement.
_OUTBOX_INSERT_ONE = Query(
    text(
        "INSERT INTO outbox (event_id, event_type, booking_id, body, headers)"
        " VALUES (:event_id, :event_type, :booking_id, :body, :headers)"
    )
)
_OUTBOX_INSERT = Query(
    text(
        "INSERT INTO outbox (event_id, event_type, booking_id, body, headers)"
        " SELECT * FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS varchar[]),"
        " CAST(:booking_ids AS uuid[]), CAST(:bodies AS text[]), CAST(:headers AS jsonb[]))"
    )
)
