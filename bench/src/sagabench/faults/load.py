"""The suite's customers: ~3 new sagas a second, each one booked, billed, paid and watched.

A customer retries what failed to reach the service (a refused connection, a 503) the way
a careful client would: after `Retry-After`, and a booking whose answer was lost is looked
up by its customer before it is asked for again (each customer books once). Every answer
is tallied: a 5xx other than 503, or a 503 without `Retry-After` or a JSON `detail`, is a
violation whatever the fault.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp

from sagactl.auth import ADMIN, DevTokens
from sagactl.client import Endpoints

RICH, POOR, PRICE = Decimal("1000.00"), Decimal("10.00"), Decimal("100.00")
ENDS = ("reserved", "failed", "rejected")  # every booking status ends so; and:
FINAL = frozenset({*ENDS, "expired"})  # issue 10 part 1 (payment deadlines)
RETRYABLE = (aiohttp.ClientConnectionError, asyncio.TimeoutError)


@dataclass
class Saga:
    """One customer and what it saw."""

    customer: str
    credit: Decimal
    pays: bool = True
    booking_id: str | None = None
    final: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None  # time.monotonic() when the end was seen
    error: str | None = None


@dataclass
class Tally:
    """Every answer the customers got from the services."""

    answers: int = 0
    proper_503: int = 0
    bad_5xx: int = 0  # a 5xx other than 503, or a 503 without Retry-After / JSON detail
    connection_errors: int = 0
    samples: list[str] = field(default_factory=list)

    def bad(self, what: str) -> None:
        self.bad_5xx += 1
        if len(self.samples) < 5:
            self.samples.append(what)


class Load:
    """Sagas of customers named `<tag>-<n>`, against one stack's endpoints."""

    def __init__(self, endpoints: Endpoints, tokens: DevTokens, tag: str, seed: int) -> None:
        self.urls = endpoints
        self.tokens = tokens
        self.tag = tag
        self.random = random.Random(seed)
        self.sagas: list[Saga] = []
        self.tally = Tally()
        self._tasks: list[asyncio.Task[None]] = []
        self._count = itertools.count()
        # Idle connections dropped before uvicorn's 5 s keep-alive ends (see driver.py).
        connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=2.0)
        self.http = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=30)
        )

    async def start(
        self, count: int, rate: float, poor_share: float = 0.2, unpaid_share: float = 0.0
    ) -> None:
        """Start `count` sagas at `rate` a second (open loop); returns once all are started."""
        began = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            credit = POOR if self.random.random() < poor_share else RICH
            saga = Saga(f"{self.tag}-{next(self._count)}", credit)
            saga.pays = self.random.random() >= unpaid_share
            self.sagas.append(saga)
            self._tasks.append(asyncio.create_task(self._run(saga)))

    async def finish(self, timeout: float, idle: float = 45.0) -> None:
        """Wait for every saga to end, at most `timeout` seconds, and no longer than `idle`
        seconds without one ending (stuck sagas stay stuck); then close the connections."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        ended, moved = -1, loop.time()
        while (pending := [task for task in self._tasks if not task.done()]) and (
            loop.time() < min(deadline, moved + idle)
        ):
            await asyncio.wait(pending, timeout=1.0)
            if (now_ended := sum(task.done() for task in self._tasks)) != ended:
                ended, moved = now_ended, loop.time()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.close()

    async def _run(self, saga: Saga) -> None:
        try:
            me = self._bearer(saga.customer)
            credit_url = f"{self.urls.url('payment')}/customers/{saga.customer}/credit"
            await self._until_ok(
                "PUT", credit_url, self._bearer(ADMIN), {"amount": str(saga.credit)}
            )
            saga.booking_id = await self._book(saga, me)
            payment = f"{self.urls.url('payment')}/payments/{saga.booking_id}"
            bill = await self._wait(payment, me, "awaiting_payment", lambda _: True)
            if saga.pays and bill["status"] == "awaiting_payment":
                body = {"booking_id": saga.booking_id}
                await self._until_ok("POST", f"{self.urls.url('payment')}/payments", me, body)
            booking = f"{self.urls.url('booking')}/bookings/{saga.booking_id}"
            wait_for = "&wait_for=".join(sorted(ENDS))  # an `expired` one is seen on return
            found = await self._wait(booking, me, wait_for, lambda b: b["status"] in FINAL)
            saga.final, saga.ended_at = found["status"], time.monotonic()
        except Exception as exc:  # recorded: the checks count what did not end
            saga.error = f"{exc.__class__.__name__}: {exc}"

    def _bearer(self, identity: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.token(identity)}"}

    async def _book(self, saga: Saga, me: dict[str, str]) -> str:
        body = {"customer_id": saga.customer, "item": "Room", "amount": str(PRICE)}
        mine = f"{self.urls.url('booking')}/bookings?customer_id={saga.customer}"
        while True:
            status, created = await self._call(
                "POST", f"{self.urls.url('booking')}/bookings", me, body
            )
            if status == 201:
                return str(created["id"])
            # No answer, or a 503: it may exist all the same. Look before asking again.
            status, page = await self._call("GET", mine, me)
            if status == 200 and page["items"]:
                return str(page["items"][0]["id"])
            await asyncio.sleep(0.5)

    async def _until_ok(self, method: str, url: str, auth: dict[str, str], body: Any) -> Any:
        while True:
            status, answer = await self._call(method, url, auth, body)
            if status is not None and status < 300:
                return answer
            if status not in (None, 503):
                raise RuntimeError(f"{method} {url}: {status} {answer}")
            await asyncio.sleep(0.5)

    async def _wait(self, url: str, me: dict[str, str], wait_for: str, done: Any) -> Any:
        while True:
            status, body = await self._call("GET", f"{url}?wait_for={wait_for}&wait=5", me)
            if status == 200 and done(body):
                return body
            if status not in (None, 200, 404, 503):
                raise RuntimeError(f"GET {url}: {status} {body}")
            await asyncio.sleep(0.2 if status == 200 else 0.5)

    async def _call(
        self, method: str, url: str, auth: dict[str, str], body: Any = None
    ) -> tuple[int | None, Any]:
        """(status, JSON body), or (None, None) when the service could not be reached."""
        try:
            async with self.http.request(method, url, json=body, headers=auth) as response:
                self.tally.answers += 1
                text = await response.text()
                if response.status >= 500:
                    self._judge(method, url, response.status, response.headers, text)
                    return response.status, None
                return response.status, await response.json(content_type=None)
        except RETRYABLE:
            self.tally.connection_errors += 1
            return None, None

    def _judge(self, method: str, url: str, status: int, headers: Any, text: str) -> None:
        proper = status == 503 and "Retry-After" in headers and text.startswith('{"detail"')
        if proper:
            self.tally.proper_503 += 1
        else:
            self.tally.bad(f"{method} {url.split('?')[0]} -> {status} {text[:120]!r}")
