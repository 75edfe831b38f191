"""When the broker forgets: Redis wiped or restarted empty mid-load, a Pub/Sub subscriber down.

The Redis that is flushed and restarted is the test's own (a private redis-server on a
free port, no persistence), never the shared one. Every saga must end within the
reconcile threshold plus a bound, each effect exactly once: one bill, one charge, one
invoice per booking, every customer's credit exactly the initial minus what it paid.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from sagactl.backends import EmbeddedRedis
from sagakit import acl
from sagakit.testing import free_ports

from .conftest import LiveStack, OtlpReceiver, live_stack

# Fast recovery: a saga still for 3 s is reconciled, looked for every second.
RECOVERY = {
    "RECONCILE_AFTER_SECONDS": "3",
    "RECONCILE_INTERVAL_SECONDS": "1",
    "CONSUMER_WATCH_SECONDS": "0.5",
    "OUTBOX_RETENTION_HOURS": "1",
}
BOUND = 90.0  # seconds a saga may take, outage and reconciliation included
CREDIT, PRICE = Decimal("500.00"), Decimal("120.00")


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", free_ports(1)[0])
    server.start()
    yield server
    server.stop()


async def one_saga(live: LiveStack, customer: str) -> str:
    """Book, wait for the bill, pay, wait for the end; returns the booking id."""
    booking_id = await live.book(customer, PRICE)
    await live.wait_for(
        "payment", f"/payments/{booking_id}", lambda p: p["status"] != "pending", BOUND
    )
    await live.pay(booking_id)
    await live.wait_for("booking", f"/bookings/{booking_id}", _final, BOUND)
    return booking_id


def _final(booking: dict[str, object]) -> bool:
    return booking["status"] in ("reserved", "failed", "rejected")


async def assert_each_effect_once(live: LiveStack, owners: dict[str, str]) -> None:
    for booking_id, customer in owners.items():
        booking = await live.client.find("booking", f"/bookings/{booking_id}")
        assert booking is not None and booking["status"] == "reserved", booking
        bills = await live.client.find("billing", f"/bills?customer_id={customer}")
        invoices = await live.client.find("invoice", f"/invoices?customer_id={customer}")
        payer = await live.client.find("payment", f"/customers/{customer}")
        assert bills is not None and bills["total"] == 1, bills
        assert invoices is not None and invoices["total"] == 1, invoices
        assert payer is not None and Decimal(payer["credit"]) == CREDIT - PRICE, payer


async def assert_all_ready(live: LiveStack) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for name in ("booking", "manager", "billing", "payment", "invoice"):

            async def ready(name: str = name) -> bool:
                response = await http.get(live.url(name) + "/readyz")
                return (
                    response.status_code == 200 and response.json()["checks"]["consumers"] == "ok"
                )

            for _ in range(100):
                if await ready():
                    break
                await asyncio.sleep(0.2)
            assert await ready(), f"{name} not ready\n{live.log_tail()}"


async def restart_empty(server: EmbeddedRedis, live: LiveStack) -> None:
    """Stop the private Redis and start it again with nothing (no persistence).

    Its ACL users are created again, as Redis loads the chart's ACL file at start.
    """
    server.stop()
    server.start()
    passwords = {
        acl.username(name, live.prefix): unquote(urlsplit(url).password or "")
        for name, url in live.security.own_urls.items()
    }
    client = Redis.from_url(live.security.redis_url)
    try:
        await acl.create_users(client, live.prefix, "saga.dead-letters", passwords)
    finally:
        await client.aclose()


async def test_redis_wiped_and_restarted_empty_mid_load_every_saga_ends_once(
    private_redis: EmbeddedRedis,
    tmp_path_factory: pytest.TempPathFactory,
    otlp: OtlpReceiver,
    dev_key: Path,
) -> None:
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    async with live_stack(
        "streams", "wiped", tmp_path_factory, otlp, dev_key, url, RECOVERY
    ) as live:
        customers = [await live.customer(CREDIT) for _ in range(40)]

        async def staggered(index: int, customer: str) -> str:
            await asyncio.sleep(index * 0.1)
            return await one_saga(live, customer)

        sagas = asyncio.gather(*(staggered(i, c) for i, c in enumerate(customers)))
        await asyncio.sleep(1.5)
        await live.redis.flushall()  # everything Redis held: streams, groups, pending
        await asyncio.sleep(1.5)
        await restart_empty(private_redis, live)  # and again, by a restart without data
        booking_ids = await sagas

        await assert_each_effect_once(live, dict(zip(booking_ids, customers, strict=True)))
        await assert_all_ready(live)
        logs = "".join(path.read_text() for path in live.logs.glob("*.log"))
        assert "restarted a stopped subscriber" in logs  # FastStream had stopped them


@pytest.fixture(scope="module")
async def reconciling_pubsub(
    tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver, dev_key: Path
) -> AsyncIterator[LiveStack]:
    """A Pub/Sub stack on the shared Redis (its own prefix; nothing there is wiped)."""
    async with live_stack(
        "pubsub", "reconcile", tmp_path_factory, otlp, dev_key, extra_env=RECOVERY
    ) as live:
        yield live


async def test_pubsub_a_subscriber_down_while_events_pass_still_ends_every_saga(
    reconciling_pubsub: LiveStack,
) -> None:
    live = reconciling_pubsub
    customers = [await live.customer(CREDIT) for _ in range(8)]
    await live.stack.kill("invoice", 15)  # PAID_BOOKING_EVENT is published while it is away
    owners = {}
    for customer in customers:
        booking_id = await live.book(customer, PRICE)
        await live.billed(booking_id)
        await live.pay(booking_id)
        owners[booking_id] = customer
    for booking_id in owners:  # paid, but no invoice: the saga waits for one that never comes
        await live.wait_for("payment", f"/payments/{booking_id}", lambda p: p["status"] == "paid")
    await live.stack.start("invoice")
    assert await live.stack.wait_ready(("invoice",)), live.log_tail()

    for booking_id in owners:  # the reconciler has payment publish PAID again
        await live.wait_for("booking", f"/bookings/{booking_id}", _final, BOUND)
    await assert_each_effect_once(live, owners)
    await assert_all_ready(live)
