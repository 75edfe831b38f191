"""The five services as real processes (the same `Stack` that `make up` runs), driven over HTTP.

Each stack gets its own databases (`e2e_<service>`), its own stream/channel
prefix and free ports, so the suite never touches a running `make up`.
Service logs go to files; a failed wait prints their tails.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from sagactl.backends import Backends
from sagactl.client import SERVICES, SagaClient
from sagactl.devstack import Stack
from sagakit.testing import (
    POSTGRES_URL,
    REDIS_URL,
    fresh_database,
    require_postgres,
    require_redis,
    unique_prefix,
)

FAST_RECOVERY = {
    "CLAIM_IDLE_MS": "1000",
    "MAX_DELIVERIES": "3",
    "RELAY_POLL_SECONDS": "0.5",
    "POLL_INTERVAL_MS": "50",
    "LOG_LEVEL": "INFO",
}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


class LiveStack:
    """A running stack plus the calls the scenarios need."""

    def __init__(self, stack: Stack, prefix: str, logs: Path, redis: Redis) -> None:
        self.stack = stack
        self.prefix = prefix
        self.logs = logs
        self.redis = redis
        self.client = SagaClient(stack.endpoints(), timeout=10.0)

    def stream(self, event_type: str) -> str:
        return self.prefix + event_type

    def url(self, service: str) -> str:
        return self.stack.endpoints().url(service)

    def log_tail(self, lines: int = 25) -> str:
        parts = []
        for name in SERVICES:
            path = self.logs / f"{name}.log"
            text = path.read_text().splitlines()[-lines:] if path.exists() else []
            parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    async def customer(self, credit: Decimal) -> str:
        customer_id = f"cust-{uuid.uuid4().hex[:10]}"
        await self.client.set_credit(customer_id, credit)
        return customer_id

    async def book(self, customer_id: str, amount: Decimal = Decimal("120.00")) -> str:
        return str((await self.client.book(customer_id, "Room 42", amount))["id"])

    async def wait_for(
        self,
        service: str,
        path: str,
        done: Callable[[dict[str, Any]], bool],
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        """Poll a resource until `done` holds; fail with the services' logs otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: dict[str, Any] | None = None
        while loop.time() < deadline:
            try:
                last = await self.client.find(service, path)
            except httpx.HTTPError:
                last = None
            if last is not None and done(last):
                return last
            await asyncio.sleep(0.05)
        pytest.fail(f"{service}{path} never got there; last seen {last}\n{self.log_tail()}")

    async def booking_status(self, booking_id: str, status: str) -> dict[str, Any]:
        return await self.wait_for(
            "booking", f"/bookings/{booking_id}", lambda b: b["status"] == status
        )

    async def billed(self, booking_id: str) -> dict[str, Any]:
        return await self.wait_for(
            "payment", f"/payments/{booking_id}", lambda p: p["status"] == "awaiting_payment"
        )

    async def pay(self, booking_id: str) -> dict[str, Any]:
        response = await self.client.pay(booking_id)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def restart(
        self, name: str, env: dict[str, str] | None = None, crash: bool = False
    ) -> None:
        """Stop a service (SIGKILL when `crash`) and start it again with extra env."""
        await self.stack.kill(name, 9 if crash else 15)
        await self.stack.start(name, env)
        assert await self.stack.wait_ready((name,)), self.log_tail()


async def launch(transport: str, database_prefix: str, logs: Path) -> LiveStack:
    await require_postgres()
    await require_redis()
    for name in SERVICES:
        await fresh_database(database_prefix + name)
    prefix = unique_prefix()

    def sink(name: str, line: str) -> None:
        with (logs / f"{name}.log").open("a") as out:
            out.write(line + "\n")

    env = {**FAST_RECOVERY, "EVENT_TRANSPORT": transport, "EVENT_PREFIX": prefix}
    stack = Stack(
        Backends(database_url=POSTGRES_URL, redis_url=REDIS_URL),
        env,
        ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
        database_prefix=database_prefix,
        sink=sink,
    )
    live = LiveStack(stack, prefix, logs, Redis.from_url(REDIS_URL))
    await stack.start_all()
    assert await stack.wait_ready(), live.log_tail()
    return live


async def shut(live: LiveStack) -> None:
    await live.stack.stop()
    await live.client.aclose()
    await live.redis.aclose()


@pytest.fixture(scope="session")
async def streams(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveStack]:
    live = await launch("streams", "e2e_", tmp_path_factory.mktemp("streams-logs"))
    yield live
    await shut(live)


@pytest.fixture(scope="session")
async def pubsub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveStack]:
    live = await launch("pubsub", "e2e_pubsub_", tmp_path_factory.mktemp("pubsub-logs"))
    yield live
    await shut(live)
