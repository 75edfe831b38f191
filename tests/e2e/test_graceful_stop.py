"""SIGTERM, as a rolling update sends it: nothing lost, no 5xx, nothing twice.

A service stopped in the middle of a batch of sagas and of long polls answers the
polls at once (200, the current state), finishes the messages it is handling, acks
them, publishes what they committed and exits; started again, every saga ends as it
should, with one bill, one payment and one invoice each and no dead letter.

Pub/Sub is covered by the in-flight test only: a subscriber that is down misses what
is published meanwhile (at-most-once by design), so a batch of sagas across a restart
cannot all finish there. What a graceful stop must still do on Pub/Sub is finish the
message in hand: Pub/Sub would never deliver it again.
"""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sagakit.db import normalize_url
from sagakit.deadletter import DeadLetterQueue
from sagakit.events import EventType
from sagakit.testing import consumed, database_url, eventually, read_envelopes

RICH, POOR = Decimal("500.00"), Decimal("50.00")
PRICE = Decimal("120.00")


class PatientClient:
    """Calls a service like a client behind a load balancer: while the service is down
    (connection refused or closed) it tries again; it remembers every status it got."""

    def __init__(self, live: Any) -> None:
        self.live = live
        self.seen: list[tuple[str, int]] = []
        self._http = httpx.AsyncClient(timeout=45.0)

    async def call(
        self, method: str, service: str, path: str, identity: str, json: Any = None
    ) -> httpx.Response:
        url, headers = self.live.url(service) + path, self.live.headers(identity)
        for _ in range(600):
            try:
                response = await self._http.request(method, url, json=json, headers=headers)
            except httpx.TransportError:  # down: not an answer, try again
                await asyncio.sleep(0.1)
                continue
            self.seen.append((f"{method} {service}{path}", response.status_code))
            return response
        pytest.fail(f"{service} never came back\n{self.live.log_tail()}")

    async def pay(self, booking_id: str) -> None:
        customer = self.live.owners[booking_id]  # a customer pays only its own booking
        body = {"booking_id": booking_id}
        response = await self.call("POST", "payment", "/payments", customer, body)
        assert response.status_code == 200, response.text

    def server_errors(self) -> list[tuple[str, int]]:
        return [(call, status) for call, status in self.seen if status >= 500]

    async def aclose(self) -> None:
        await self._http.aclose()


def long_poll(victim: str, booking_id: str) -> tuple[str, str, str]:
    """(service, path, status it answers with while the saga waits for its payment)."""
    if victim == "payment":
        return "payment", f"/payments/{booking_id}?wait_for=paid&wait=30", "awaiting_payment"
    return "booking", f"/bookings/{booking_id}?wait_for=reserved&wait=30", "approved"


@pytest.mark.parametrize("victim", ["payment", "booking", "invoice"])
async def test_sigterm_mid_sagas_and_long_polls_loses_nothing_and_duplicates_nothing(
    streams: Any, victim: str
) -> None:
    client = PatientClient(streams)
    credits = await _book(streams, rich=14, poor=3)
    for booking_id in credits:
        await streams.billed(booking_id)
    held = list(credits)[:3]  # paid only after the restart; long-polled until then
    polls = [
        asyncio.create_task(_poll(client, victim, booking_id))
        for booking_id in (held if victim in ("payment", "booking") else [])
    ]
    late = await _book(streams, rich=3, poor=1)  # their first steps are in flight
    first_paid = asyncio.Event()
    payer = asyncio.create_task(
        _pay_all_at_once(client, [b for b in credits if b not in held], first_paid)
    )
    await first_paid.wait()  # the polls wait, the burst of payments flows

    await streams.stack.kill(victim, signal.SIGTERM)  # returns once the process exited
    assert all(poll.done() for poll in polls)  # answered before the process exited
    for poll in polls:
        assert poll.result() == (200, long_poll(victim, "-")[2])
    await streams.stack.start(victim)
    assert await streams.stack.wait_ready((victim,)), streams.log_tail()

    await payer
    for booking_id in [*held, *late]:
        await streams.billed(booking_id)
        await client.pay(booking_id)
    await _every_saga_ended_as_it_should(streams, {**credits, **late})
    assert client.server_errors() == []
    log = (streams.logs / f"{victim}.log").read_text()
    assert "event consumers stopped in" in log and "outbox drained in" in log
    await client.aclose()


async def test_a_message_in_hand_at_sigterm_is_finished_and_acked_before_exit(
    saga_stack: Any,
) -> None:
    live = saga_stack
    customer = await live.customer(RICH)
    booking_id = await live.book(customer)
    await live.billed(booking_id)
    invoice_db = create_async_engine(
        normalize_url(database_url(live.stack.database_prefix + "invoice"))
    )
    try:
        async with invoice_db.connect() as lock:
            await lock.execute(text("LOCK TABLE invoices IN SHARE MODE"))  # inserts wait
            await live.pay(booking_id)
            assert await eventually(lambda: _waiting_on_a_lock(invoice_db), timeout=20)
            process = live.stack.processes["invoice"]
            process.send_signal(signal.SIGTERM)
            assert await eventually(lambda: _logged(live, "invoice", "HTTP requests drained"))
            assert process.returncode is None  # still waiting for the handler
            await lock.rollback()  # the handler's INSERT goes through
        await asyncio.wait_for(process.wait(), 20)
        async with invoice_db.connect() as conn:
            query = text("SELECT count(*) FROM invoices WHERE booking_id = :id")
            assert await conn.scalar(query, {"id": booking_id}) == 1  # committed before exit
    finally:
        await invoice_db.dispose()
    if live.stack.extra_env["EVENT_TRANSPORT"] == "streams":  # acked before exit
        assert await consumed(live.redis, live.stream(EventType.PAID_BOOKING_EVENT), "invoice")
    await live.stack.start("invoice")
    assert await live.stack.wait_ready(("invoice",)), live.log_tail()
    await live.booking_status(booking_id, "reserved")
    if live.stack.extra_env["EVENT_TRANSPORT"] == "streams":
        generated = await _envelopes(live, EventType.INVOICE_GENERATED_EVENT, booking_id)
        assert len(generated) == 1


@pytest.fixture(params=["streams", "pubsub"])
def saga_stack(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


async def _book(live: Any, rich: int, poor: int) -> dict[str, tuple[str, Decimal]]:
    """booking id -> (customer, credit): one booking for each new customer."""
    booked = {}
    for credit in [RICH] * rich + [POOR] * poor:
        customer = await live.customer(credit)
        booked[await live.book(customer, PRICE)] = (customer, credit)
    return booked


async def _poll(client: PatientClient, victim: str, booking_id: str) -> tuple[int, str]:
    service, path, _ = long_poll(victim, booking_id)
    url, headers = client.live.url(service) + path, client.live.headers("admin")
    response = await client._http.get(url, headers=headers)  # one answer, no retry
    client.seen.append((f"GET {service}{path}", response.status_code))
    return response.status_code, response.json()["status"]


async def _pay_all_at_once(
    client: PatientClient, bookings: list[str], first: asyncio.Event
) -> None:
    async def pay(booking_id: str) -> None:
        await client.pay(booking_id)
        first.set()

    await asyncio.gather(*(pay(booking_id) for booking_id in bookings))


async def _every_saga_ended_as_it_should(live: Any, booked: dict[str, tuple[str, Decimal]]) -> None:
    for booking_id, (customer, credit) in booked.items():
        paid = credit >= PRICE
        await live.booking_status(booking_id, "reserved" if paid else "failed")
        left = (await live.client.find("payment", f"/customers/{customer}"))["credit"]
        assert Decimal(left) == (credit - PRICE if paid else credit)  # charged once, or never
        bills = await live.client.find("billing", f"/bills?customer_id={customer}")
        invoices = await live.client.find("invoice", f"/invoices?customer_id={customer}")
        assert (bills["total"], invoices["total"]) == (1, 1 if paid else 0)
        outcome = EventType.PAID_BOOKING_EVENT if paid else EventType.INSUFFICIENT_FUND_EVENT
        for event_type in (
            EventType.CREATED_BOOKING_EVENT,
            EventType.BILLED_BOOKING_EVENT,
            outcome,
        ):
            assert len(await _envelopes(live, event_type, booking_id)) == 1, event_type
    letters = await DeadLetterQueue(live.redis, live.prefix + "saga.dead-letters").list()
    mentioned = [
        letter
        for letter in letters
        if any(booking_id.encode() in b"".join(letter.raw.values()) for booking_id in booked)
    ]
    assert mentioned == []


async def _envelopes(live: Any, event_type: EventType, booking_id: str) -> list[Any]:
    envelopes = await read_envelopes(live.redis, live.stream(event_type))
    return [e for e in envelopes if str(e.booking_id) == booking_id]


async def _waiting_on_a_lock(engine: Any) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with engine.connect() as conn:
        return bool(await conn.scalar(query))


async def _logged(live: Any, service: str, text_: str) -> bool:
    return text_ in (live.logs / f"{service}.log").read_text()
