"""Starting before Redis: a service waits for it (REDIS_WAIT_SECONDS), then works, or gives
up with a message that says what it waited for.

Each test runs one real service process against a private redis-server on a free port,
started after the service (or never).
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from sagactl.backends import Backends
from sagactl.client import SagaClient
from sagactl.devstack import Stack
from sagakit.events import ApprovedBooking, Envelope, EventType
from sagakit.testing import (
    DATABASE_PREFIX,
    POSTGRES_URL,
    drop_database,
    eventually,
    free_ports,
    fresh_database,
    read_envelopes,
    require_postgres,
    run_keyring,
    unique_prefix,
    xadd_envelope,
)


@dataclass
class Lonely:
    """One billing process whose Redis is not there yet, and its log."""

    stack: Stack
    redis_port: int
    prefix: str
    lines: list[str] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@pytest.fixture
async def lonely_billing(dev_key: Path) -> AsyncIterator[Lonely]:
    await require_postgres()
    database_prefix = f"{DATABASE_PREFIX}startup_"
    await fresh_database(database_prefix + "billing")
    redis_port, http_port = free_ports(2)
    prefix = unique_prefix()
    lonely: Lonely
    backends = Backends(database_url=POSTGRES_URL, redis_url=f"redis://127.0.0.1:{redis_port}/0")
    stack = Stack(
        backends,
        {"EVENT_PREFIX": prefix, "LOG_FORMAT": "text", "POLL_INTERVAL_MS": "50"},
        ports={"billing": http_port},
        database_prefix=database_prefix,
        sink=lambda _, line: lonely.lines.append(line),
        dev_key_file=dev_key,
        service_env={"billing": run_keyring().env("billing")},
    )
    lonely = Lonely(stack, redis_port, prefix)
    yield lonely
    await stack.stop()
    await drop_database(database_prefix + "billing")


@pytest.fixture
def redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.fail("redis-server is not installed: `make servers` installs it", pytrace=False)
    return found


async def test_a_service_started_before_redis_serves_once_redis_answers(
    lonely_billing: Lonely, redis_server: str
) -> None:
    await lonely_billing.stack.start("billing", {"REDIS_WAIT_SECONDS": "60"})
    assert await eventually(lambda: _logged(lonely_billing, "not reachable yet (attempt 2"))
    assert lonely_billing.stack.processes["billing"].returncode is None  # waiting, alive
    server = await asyncio.create_subprocess_exec(
        redis_server,
        "--port",
        str(lonely_billing.redis_port),
        "--save",
        "",
        "--appendonly",
        "no",
        stdout=asyncio.subprocess.DEVNULL,
    )
    redis = Redis.from_url(lonely_billing.redis_url)
    try:
        assert await lonely_billing.stack.wait_ready(("billing",)), "\n".join(lonely_billing.lines)
        booking_id = await _approve_a_booking(redis, lonely_billing.prefix)
        client = lonely_billing.stack.client()
        bill = await _eventually_found(client, f"/bills/{booking_id}")
        await client.aclose()
        assert bill["amount"] == "42.00"
        billed = await read_envelopes(redis, f"{lonely_billing.prefix}BILLED_BOOKING_EVENT")
        assert [e.booking_id for e in billed] == [booking_id]
    finally:
        await redis.aclose()
        await lonely_billing.stack.stop()
        server.terminate()
        await server.wait()


async def test_a_service_gives_up_cleanly_when_redis_never_answers(
    lonely_billing: Lonely,
) -> None:
    await lonely_billing.stack.start("billing", {"REDIS_WAIT_SECONDS": "2"})
    process = lonely_billing.stack.processes["billing"]
    assert await asyncio.wait_for(process.wait(), 60) == 3  # uvicorn: startup failed
    where = f"Redis at 127.0.0.1:{lonely_billing.redis_port}"
    assert lonely_billing.logged(f"{where} did not answer within 2 s"), lonely_billing.lines
    assert lonely_billing.logged("not reachable yet (attempt 1")


async def _logged(lonely: Lonely, text: str) -> bool:
    return lonely.logged(text)


async def _approve_a_booking(redis: Redis, prefix: str) -> uuid.UUID:
    """The APPROVED_BOOKING_EVENT the manager would publish: billing's step."""
    event = ApprovedBooking(
        booking_id=uuid.uuid4(), customer_id="early", item="Room 1", amount=Decimal("42")
    )
    envelope = Envelope.wrap(event, "manager", causation_id=None)
    await xadd_envelope(redis, f"{prefix}{EventType.APPROVED_BOOKING_EVENT}", envelope)
    return event.booking_id


async def _eventually_found(client: SagaClient, path: str) -> dict[str, object]:
    found: dict[str, object] = {}

    async def billed() -> bool:
        found.update(await client.find("billing", path) or {})
        return bool(found)

    assert await eventually(billed, timeout=20)
    return found
