"""Async engine and session factories (SQLAlchemy 2 with psycopg 3)."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from sagakit.unavailable import unreachable

log = logging.getLogger(__name__)


def normalize_url(url: str) -> URL:
    """Accept `postgres://` and `postgresql://` URLs and use the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine(
    url: str,
    pool_size: int = 10,
    max_overflow: int = 10,
    pre_ping: bool = False,
    pool_timeout: float = 30.0,
) -> AsyncEngine:
    """An async engine holding up to `pool_size` + `max_overflow` connections.

    `pool_size` connections stay open once used; `max_overflow` more are opened at peaks
    and closed when returned. The sum is what one process may hold on the server, the
    number the chart's connection budget counts. A caller that finds them all busy waits
    up to `pool_timeout` seconds, then gets `sqlalchemy.exc.TimeoutError` (HTTP: 503).

    Without `pre_ping`, a database restart fails the one operation that meets a dead
    connection (then the whole pool is dropped): a message is redelivered, an HTTP
    request gets a 503. `pre_ping` avoids even that at one extra round trip per transaction.
    """
    engine = create_async_engine(
        normalize_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_timeout=pool_timeout,
    )
    _drop_pool_on_disconnect(engine)
    return engine


def _drop_pool_on_disconnect(engine: AsyncEngine) -> None:
    """After a lost connection, reconnect every pooled connection opened before it.

    SQLAlchemy does that when one of its own statements meets a dead connection; the
    statements run on psycopg directly (sagakit.sql) go around it. Such a connection
    fails its reset when it comes back to the pool, which invalidates it: from then on,
    checking out a connection older than it reconnects (SQLAlchemy's documented way,
    `DisconnectionError` in a checkout listener), as the server was likely restarted.
    """
    lost_at = [0.0]

    def connected(dbapi_connection: Any, record: Any) -> None:
        record.info["sagakit_opened_at"] = time.monotonic()

    def invalidated(dbapi_connection: Any, record: Any, exception: BaseException | None) -> None:
        if exception is not None and unreachable(exception):
            lost_at[0] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.get("sagakit_opened_at", 0.0) < lost_at[0]:
            raise DisconnectionError("opened before a connection to the database was lost")

    event.listen(engine.sync_engine, "connect", connected)
    event.listen(engine.sync_engine, "invalidate", invalidated)
    event.listen(engine.sync_engine, "checkout", checkout)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (no lazy reloads on the event loop)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def ensure_database(url: str) -> bool:
    """Create the URL's database if it is missing; returns True when it was created.

    Needs CREATEDB on the server; in a cluster the databases already exist and
    this only checks that the service's one answers.
    """
    target = normalize_url(url)
    engine = create_async_engine(target, poolclass=NullPool)
    try:
        async with engine.connect():
            return False
    except OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    finally:
        await engine.dispose()
    admin = create_async_engine(
        target.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    name = target.database or ""
    quoted = '"' + name.replace('"', '""') + '"'
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE {quoted}"))
    except (ProgrammingError, IntegrityError) as exc:
        # Another process won the race: "already exists", or, when both were creating it at
        # the same moment, a duplicate key in pg_database.
        if "already exists" not in str(exc):
            raise
        return False
    finally:
        await admin.dispose()
    log.info("created database %s", target.database)
    return True
