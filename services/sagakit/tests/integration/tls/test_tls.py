"""TLS to Postgres and Redis with the URL forms docs/security.md gives, end to end.

DATABASE_URL takes libpq's `sslmode` and `sslrootcert`; REDIS_URL is `rediss://` with
redis-py's `ssl_ca_certs`; the broker (FastStream) reads the same URL. The servers
(conftest.py) speak only TLS, so whatever works here went over TLS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from sagakit import db
from sagakit.testing import eventually


def database_url(port: int, ca: Path, host: str = "localhost", mode: str = "verify-full") -> str:
    return f"postgresql://postgres@{host}:{port}/postgres?sslmode={mode}&sslrootcert={ca}"


def redis_url(port: int, ca: Path, host: str = "localhost") -> str:
    return f"rediss://{host}:{port}/0?ssl_ca_certs={ca}"


async def ping_postgres(url: str) -> None:
    engine = db.create_engine(url)
    try:
        await db.ping(engine)
    finally:
        await engine.dispose()


async def ping_redis(url: str) -> None:
    client = Redis.from_url(url)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def test_a_service_runs_a_saga_step_over_tls_postgres_and_redis(
    start_runtime: Any, notes_kit: Any, pki: Any, tls_postgres: int, tls_redis: int
) -> None:
    url = database_url(tls_postgres, pki.ca)
    await notes_kit.create_tables(url)
    runtime = await start_runtime(database_url=url, redis_url=redis_url(tls_redis, pki.ca))
    # Outbox -> relay -> XADD over TLS -> the consumer reads it over TLS -> a commit.
    booking_id = await notes_kit.commit_created(runtime.engine)
    assert await eventually(lambda: _seen_once(notes_kit, runtime, booking_id))
    async with runtime.engine.connect() as conn:
        encrypted = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        assert await conn.scalar(text(encrypted)) is True
    checks = await runtime.check()
    assert (checks["database"], checks["redis"]) == ("ok", "ok")


async def _seen_once(notes_kit: Any, runtime: Any, booking_id: Any) -> bool:
    return bool(await notes_kit.seen(runtime.engine, booking_id) == 1)


async def test_postgres_refuses_a_connection_without_tls(pki: Any, tls_postgres: int) -> None:
    with pytest.raises(OperationalError, match="no encryption"):
        await ping_postgres(database_url(tls_postgres, pki.ca, mode="disable"))


async def test_a_server_certificate_from_another_ca_is_refused(
    pki: Any, tls_postgres: int, tls_redis: int
) -> None:
    with pytest.raises(OperationalError, match="certificate verify failed"):
        await ping_postgres(database_url(tls_postgres, pki.other_ca))
    with pytest.raises(RedisConnectionError, match="certificate verify failed"):
        await ping_redis(redis_url(tls_redis, pki.other_ca))


async def test_the_server_name_is_checked_against_the_certificate(
    pki: Any, tls_postgres: int, tls_redis: int
) -> None:
    # The certificate names localhost only; 127.0.0.1 is the same server by another name.
    with pytest.raises(OperationalError, match="does not match host name"):
        await ping_postgres(database_url(tls_postgres, pki.ca, host="127.0.0.1"))
    with pytest.raises(RedisConnectionError, match="mismatch"):
        await ping_redis(redis_url(tls_redis, pki.ca, host="127.0.0.1"))
    await ping_postgres(database_url(tls_postgres, pki.ca))
    await ping_redis(redis_url(tls_redis, pki.ca))
