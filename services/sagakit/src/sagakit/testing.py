"""Test helpers: reach the real servers or fail saying what to start, and in-memory fakes."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import MetaData, Table, create_engine, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from sagakit.choreography import OWNERS
from sagakit.db import normalize_url
from sagakit.domain import Aggregate
from sagakit.events import Envelope, MalformedEvent, parse_envelope
from sagakit.keyring import Keyring
from sagakit.migrations import downgrade, migrate, read_revisions
from sagakit.signing import SIGNATURE_HEADER
from sagakit.uow import AbstractUnitOfWork
from sagakit.wire import DATA_FIELD, JsonMessageFormat

if TYPE_CHECKING:
    import httpx

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Integration databases are named <prefix><service>; two checkouts testing against one
# server at the same time set different prefixes.
DATABASE_PREFIX = os.environ.get("TEST_DATABASE_PREFIX", "test_")
START_HINT = (
    "Start the servers with `make servers` (or set TEST_POSTGRES_URL / TEST_REDIS_URL); "
    "`.ci/run` starts them too."
)


class ServerUnavailable(RuntimeError):
    """A test needs a server that does not answer."""


async def require_postgres(url: str = POSTGRES_URL) -> None:
    """Raise a clear error unless Postgres answers at `url`."""
    engine = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServerUnavailable(f"Postgres is not answering at {url}: {exc}. {START_HINT}") from exc
    finally:
        await engine.dispose()


async def require_redis(url: str = REDIS_URL) -> None:
    """Raise a clear error unless Redis answers at `url`."""
    client = Redis.from_url(url)
    try:
        await client.ping()
    except Exception as exc:
        raise ServerUnavailable(f"Redis is not answering at {url}: {exc}. {START_HINT}") from exc
    finally:
        await client.aclose()


def code_head(script_location: str) -> str:
    """The one head revision of a migrations package (what a migrated database is at)."""
    (head,) = read_revisions(script_location).heads
    return head


def database_url(name: str, server_url: str = POSTGRES_URL) -> str:
    """The URL of database `name` on the test server."""
    return normalize_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(name: str) -> None:
    """Drop database `name` on the test server if it exists."""
    admin = create_async_engine(
        normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def fresh_database(name: str, script_location: str | None = None) -> str:
    """Drop and recreate database `name`, migrate it to head if given migrations; return its URL."""
    await require_postgres()
    await drop_database(name)
    admin = create_async_engine(
        normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = database_url(name)
    if script_location is not None:
        await migrate(script_location, url)
    return url


class FakeUnitOfWork(AbstractUnitOfWork):
    """In-memory unit of work: remembers the inbox and every envelope committed."""

    def __init__(self, producer: str) -> None:
        super().__init__(producer)
        self.inbox: set[tuple[str, str]] = set()
        self.outbox: list[Envelope] = []
        self.commits = 0
        self._pending_inbox: tuple[str, str] | None = None

    async def _begin(self) -> None:
        self._pending_inbox = None

    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        key = (consumer, str(envelope.event_id))
        if key in self.inbox:
            return False
        self._pending_inbox = key
        return True

    async def _commit(self, outgoing: list[tuple[Envelope, Aggregate]]) -> None:
        if self._pending_inbox is not None:
            self.inbox.add(self._pending_inbox)
        self.outbox.extend(envelope for envelope, _ in outgoing)
        self.commits += 1

    async def _end(self) -> None:
        self._pending_inbox = None

    def event_types(self) -> list[str]:
        """The event types committed so far, in order."""
        return [envelope.event_type.value for envelope in self.outbox]


async def eventually(
    probe: Callable[[], Awaitable[bool]], timeout: float = 15.0, interval: float = 0.05
) -> bool:
    """Poll `probe` until it is true or `timeout` seconds passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await probe():
            return True
        await asyncio.sleep(interval)
    return bool(await probe())


async def check_migrations(script_location: str, metadata: MetaData, name: str) -> None:
    """Upgrade, compare with the tables in code, downgrade to nothing, upgrade again."""
    url = await fresh_database(name, script_location)
    diff = await asyncio.to_thread(_schema_diff, url, metadata)
    assert diff == [], f"migrations and tables in code differ: {diff}"
    await downgrade(script_location, url, "base")
    assert await asyncio.to_thread(_table_names, url) == ["alembic_version"]
    await migrate(script_location, url)
    assert sorted(await asyncio.to_thread(_table_names, url)) == sorted(
        ["alembic_version", *metadata.tables]
    )


def _schema_diff(url: str, metadata: MetaData) -> list[object]:
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return list(diff)


def _table_names(url: str) -> list[str]:
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    with engine.connect() as conn:
        names = inspect(conn).get_table_names()
    engine.dispose()
    return names


@asynccontextmanager
async def running_app(
    app: FastAPI, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (runtime, consumers, relay) and talk to it in process."""
    async with app.router.lifespan_context(app), app_client(app, headers) as client:
        yield client


def app_client(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """An HTTP client of an app in process, sending `headers` (a bearer token) each time."""
    import httpx  # a test-only dependency

    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://service", headers=headers)


def free_ports(count: int) -> list[int]:
    """`count` TCP ports on 127.0.0.1 that were free a moment ago (held together, so distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def unique_prefix() -> str:
    """A stream/channel prefix no other test run uses."""
    return f"test-{uuid.uuid4().hex[:8]}."


@functools.cache
def run_keyring() -> Keyring:
    """The signing keys of this test process: the plugin's settings and `wire` use them."""
    return Keyring.generate()


def key_settings(service: str) -> dict[str, Any]:
    """Settings fields that make `service` sign with the run's key and accept every producer."""
    keyring = run_keyring()
    return {
        "event_signing_key": keyring.keys[service].setting(),
        "event_verify_keys": keyring.verify_keys(),
    }


def wire(
    envelope: Envelope, headers: dict[str, str] | None = None, *, signed: bool = True
) -> bytes:
    """The `__data__` field the transport writes for an envelope, signed like its producer.

    The signing key is the test keyring's key of the envelope's `producer` (of the event
    type's owner when the producer has none), so a test can play a compromised service.
    """
    data = envelope.model_dump_json()
    sent = dict(headers or {})
    if signed:
        keyring = run_keyring()
        signer = envelope.producer
        signer = signer if signer in keyring.keys else OWNERS[envelope.event_type]
        sent[SIGNATURE_HEADER] = keyring.sign(signer, data.encode())  # replaces a copied one
    return json.dumps({"data": data, "headers": sent}).encode()


async def xadd_envelope(
    redis: Redis, stream: str, envelope: Envelope, headers: dict[str, str] | None = None
) -> str:
    """Deliver an envelope onto a stream the way a publishing service does."""
    entry_id = await redis.xadd(stream, {DATA_FIELD: wire(envelope, headers)})
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def read_messages(redis: Redis, stream: str) -> list[tuple[Envelope, dict[str, Any]]]:
    """Every envelope on a stream with its headers, oldest first (non-envelopes left out)."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(stream))
    messages = []
    for _, fields in entries:
        try:
            data, headers = JsonMessageFormat.parse(fields[DATA_FIELD])
            messages.append((parse_envelope(data), headers))
        except (KeyError, MalformedEvent):
            continue
    return messages


async def read_envelopes(redis: Redis, stream: str) -> list[Envelope]:
    """Every envelope on a stream, oldest first (entries that are not envelopes are left out)."""
    return [envelope for envelope, _ in await read_messages(redis, stream)]


async def consumed(redis: Redis, stream: str, group: str) -> bool:
    """Has the group read every entry of the stream and acked all of them?"""
    groups = {g["name"].decode(): g for g in await redis.xinfo_groups(stream)}
    info = groups.get(group)
    return info is not None and info["lag"] == 0 and info["pending"] == 0


async def count_rows(engine: AsyncEngine, table: Table, **where: object) -> int:
    """How many rows of `table` match `column=value` filters."""
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)
