"""Customers: top up, book, pay as soon as the bill exists, wait for the end of the saga."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sagactl.client import Endpoints

RICH_CREDIT, POOR_CREDIT, PRICE = "1000.00", "10.00", "100.00"
FINAL = {"reserved", "failed", "rejected"}


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

    def __init__(self, replicas: list[Endpoints], poor_share: float, timeout: float = 30.0) -> None:
        self.replicas = replicas
        self.poor_share = poor_share
        self.timeout = timeout
        self.run_id = uuid.uuid4().hex[:6]
        self._counter = itertools.count()
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
        self.http = httpx.AsyncClient(timeout=timeout, limits=limits)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def saga(self) -> SagaResult:
        """One customer, start to end; errors are recorded, never raised."""
        index = next(self._counter)
        urls = self.replicas[index % len(self.replicas)]
        rich = random.random() >= self.poor_share
        booking_id: str | None = None
        try:
            booking_id = await self._book(urls, f"c{self.run_id}-{index}", rich)
            await self._until(urls.url("payment") + f"/payments/{booking_id}", _awaiting)
            paid = await self.http.post(
                urls.url("payment") + "/payments", json={"booking_id": booking_id}
            )
            paid.raise_for_status()
            booking = await self._until(urls.url("booking") + f"/bookings/{booking_id}", _final)
            return SagaResult(booking_id, rich, booking["status"])
        except Exception as exc:
            return SagaResult(booking_id, rich, None, f"{exc.__class__.__name__}: {exc}")

    async def _book(self, urls: Endpoints, customer: str, rich: bool) -> str:
        credit = {"amount": RICH_CREDIT if rich else POOR_CREDIT}
        put = await self.http.put(
            urls.url("payment") + f"/customers/{customer}/credit", json=credit
        )
        put.raise_for_status()
        body = {"customer_id": customer, "item": "Room", "amount": PRICE}
        created = await self.http.post(urls.url("booking") + "/bookings", json=body)
        created.raise_for_status()
        return str(created.json()["id"])

    async def _until(self, url: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        # Polling only finds out when to act; latencies come from server timestamps.
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while time.monotonic() < deadline:
            response = await self.http.get(url)
            if response.status_code == 200 and done(body := response.json()):
                return dict(body)
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.1)
        raise TimeoutError(f"{url} did not get there in {self.timeout}s")


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
