"""Customers: top up, book, pay as soon as the bill exists, wait for the end of the saga.

Every request carries a bearer token, as the services' role table asks: the admin tops
up, each customer books, pays and watches its own booking with its own token. A token
is signed once per customer (and once for the admin), before that customer's first
request: a few hundred microseconds of the load generator's CPU per saga, none of the
services'.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from sagactl.auth import ADMIN, DevTokens
from sagactl.client import Endpoints

RICH_CREDIT, POOR_CREDIT, PRICE = "1000.00", "10.00", "100.00"
FINAL = {"reserved", "failed", "rejected", "expired"}


@dataclass
class SagaResult:
    """What one customer saw."""

    booking_id: str | None
    rich: bool
    final: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Ended as the pattern promises: reserved when the customer could pay, else failed."""
        return self.final == ("reserved" if self.rich else "failed")


class Customers:
    """Runs sagas against one or more replicas of every service (round robin per saga)."""

    def __init__(
        self, replicas: list[Endpoints], tokens: DevTokens, poor_share: float, timeout: float = 30.0
    ) -> None:
        self.replicas = replicas
        self.tokens = tokens
        self.poor_share = poor_share
        self.timeout = timeout
        self.run_id = uuid.uuid4().hex[:6]
        self._counter = itertools.count()
        # aiohttp, not httpx: at 32 requests in flight httpx spent ~2.6 ms of CPU per
        # request here against ~0.1 ms, so the load generator took the services' CPU.
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one
        # the server is closing at that moment fails the request.
        self._connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=2.0)
        self.http = aiohttp.ClientSession(
            connector=self._connector, timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.close()

    async def saga(self) -> SagaResult:
        """One customer, start to end; errors are recorded, never raised."""
        index = next(self._counter)
        urls = self.replicas[index % len(self.replicas)]
        rich = random.random() >= self.poor_share
        booking_id: str | None = None
        customer = f"c{self.run_id}-{index}"
        try:
            me = self._bearer(customer)
            booking_id = await self._book(urls, customer, me, rich)
            payments = urls.url("payment") + f"/payments/{booking_id}"
            await self._until(payments, me, ("awaiting_payment",), _awaiting)
            # POST /payments is idempotent by contract: a retry never charges twice.
            payment = {"booking_id": booking_id}
            pay = functools.partial(self._call, "POST", urls.url("payment") + "/payments", me)
            await _retrying(lambda: pay(payment))
            bookings = urls.url("booking") + f"/bookings/{booking_id}"
            booking = await self._until(bookings, me, tuple(sorted(FINAL)), _final)
            return SagaResult(booking_id, rich, booking["status"])
        except Exception as exc:
            return SagaResult(booking_id, rich, None, f"{exc.__class__.__name__}: {exc}")

    def _bearer(self, identity: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.token(identity)}"}

    async def _call(
        self, method: str, url: str, auth: dict[str, str], body: Any = None
    ) -> tuple[int, Any]:
        """One request: (status, JSON body); a 5xx or an unexpected 4xx raises."""
        async with self.http.request(method, url, json=body, headers=auth) as response:
            if response.status >= 500 or response.status in (400, 401, 403, 409, 422):
                raise RuntimeError(f"{method} {url}: {response.status} {await response.text()}")
            return response.status, await response.json() if response.status < 300 else None

    async def _book(self, urls: Endpoints, customer: str, me: dict[str, str], rich: bool) -> str:
        credit = {"amount": RICH_CREDIT if rich else POOR_CREDIT}
        topping_up = urls.url("payment") + f"/customers/{customer}/credit"
        await self._call("PUT", topping_up, self._bearer(ADMIN), credit)
        body = {"customer_id": customer, "item": "Room", "amount": PRICE}
        # With a key of its own the booking is an idempotent request: a retry after a
        # failed connection answers the booking made, never a second one.
        keyed = {**me, "Idempotency-Key": str(uuid.uuid4())}
        booking = functools.partial(self._call, "POST", urls.url("booking") + "/bookings")
        _, created = await _retrying(functools.partial(booking, keyed, body))
        return str(created["id"])

    async def _until(
        self,
        url: str,
        me: dict[str, str],
        wait_for: tuple[str, ...],
        done: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any]:
        # Long polling: the service answers as soon as the status is one of `wait_for`,
        # so a customer waits with one request and sees the change at once. (Polling
        # costs the services CPU the sagas could use, the more the busier they are.)
        deadline = time.monotonic() + self.timeout
        statuses = "&".join(f"wait_for={status}" for status in wait_for)
        while (left := deadline - time.monotonic()) > 0:
            query = f"{url}?{statuses}&wait={min(left, 10.0):.2f}"
            status, body = await _retrying(functools.partial(self._call, "GET", query, me))
            if status == 200 and done(body):
                return dict(body)
        raise TimeoutError(f"{url} did not get there in {self.timeout}s")


async def _retrying(
    call: Callable[[], Awaitable[tuple[int, Any]]], attempts: int = 3
) -> tuple[int, Any]:
    """An idempotent request, again when the connection failed (never on an answer)."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except aiohttp.ClientConnectionError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _awaiting(payment: dict[str, Any]) -> bool:
    return bool(payment["status"] == "awaiting_payment")


def _final(booking: dict[str, Any]) -> bool:
    return bool(booking["status"] in FINAL)


async def closed_loop(
    customers: Customers, concurrency: int, duration: float, tick: Callable[[], None]
) -> list[SagaResult]:
    """`concurrency` customers, each starting a new saga when the last one ended."""
    results: list[SagaResult] = []
    end = time.monotonic() + duration

    async def worker() -> None:
        while time.monotonic() < end:
            results.append(await customers.saga())
            tick()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def open_loop(
    customers: Customers, rate: float, duration: float, tick: Callable[[], None]
) -> list[SagaResult]:
    """New customers arrive at `rate` per second whatever happens to the earlier ones."""
    tasks: list[asyncio.Task[SagaResult]] = []
    start = time.monotonic()
    for n in range(int(rate * duration)):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        task = asyncio.create_task(customers.saga())
        task.add_done_callback(lambda _: tick())
        tasks.append(task)
    return list(await asyncio.gather(*tasks))
