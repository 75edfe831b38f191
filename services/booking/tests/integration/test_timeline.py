"""The saga journal and the timeline, through the running service's consumers over Redis."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select, update

from booking.adapters.orm import messaging, saga_journal
from booking.config import Settings
from sagakit.events import (
    ApprovedBooking,
    BilledBooking,
    Envelope,
    InsufficientFund,
    InvoiceGenerated,
    PaidBooking,
    PaymentExpired,
    SagaEvent,
)
from sagakit.testing import consumed, count_rows, eventually, read_messages, running_app, wire
from sagakit.tracing import trace_id
from sagakit.wire import DATA_FIELD

ROOM = {"customer_id": "alice", "item": "Room 7", "amount": "120.00"}


class Saga:
    """One booking of alice's (its client calls as alice) driven by events onto its streams."""

    def __init__(self, client, redis: Redis, settings: Settings) -> None:
        self.client, self.redis, self.prefix = client, redis, settings.event_prefix
        self.booking_id = uuid.UUID(int=0)
        self.headers: dict[str, str] = {}
        self.last: Envelope | None = None

    async def start(self) -> None:
        """Book, wait until the booking journaled its own CREATED, keep the saga's trace."""
        created = await self.client.post("/bookings", json=ROOM)
        self.booking_id = uuid.UUID(created.json()["id"])
        await self.steps(1)
        stream = self.prefix + "CREATED_BOOKING_EVENT"
        [(self.last, self.headers)] = [
            (e, h)
            for e, h in await read_messages(self.redis, stream)
            if e.booking_id == self.booking_id
        ]

    async def deliver(self, event: SagaEvent, producer: str) -> Envelope:
        """Publish the next event of the saga, caused by the previous one, in the saga's trace."""
        causation = self.last.event_id if self.last else None
        envelope = Envelope.wrap(event, producer, causation)
        body = wire(envelope, self.headers)  # signed by `producer`
        await self.redis.xadd(self.prefix + envelope.event_type, {DATA_FIELD: body})
        self.last = envelope
        return envelope

    async def timeline(self) -> dict[str, Any]:
        response = await self.client.get(f"/bookings/{self.booking_id}/timeline")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def steps(self, count: int) -> dict[str, Any]:
        """The timeline once it has `count` steps."""

        async def enough() -> bool:
            return len((await self.timeline())["steps"]) >= count

        assert await eventually(enough), await self.timeline()
        return await self.timeline()

    def approved(self) -> ApprovedBooking:
        return ApprovedBooking(booking_id=self.booking_id, **ROOM)

    def billed(self) -> BilledBooking:
        return BilledBooking(booking_id=self.booking_id, bill_id=uuid.uuid4(), **ROOM)


async def billed_saga(client, redis: Redis, settings: Settings) -> Saga:
    saga = Saga(client, redis, settings)
    await saga.start()
    await saga.deliver(saga.approved(), "manager")
    await saga.steps(2)
    await saga.deliver(saga.billed(), "billing")
    await saga.steps(3)
    return saga


def event_types(timeline: dict[str, Any]) -> list[str]:
    return [step["event_type"] for step in timeline["steps"]]


async def test_a_billed_saga_waits_for_the_customers_payment(client_as, redis, settings) -> None:
    saga = await billed_saga(client_as("alice"), redis, settings)
    timeline = await saga.timeline()
    assert event_types(timeline) == [
        "CREATED_BOOKING_EVENT",
        "APPROVED_BOOKING_EVENT",
        "BILLED_BOOKING_EVENT",
    ]
    assert timeline["status"] == "approved" and not timeline["finished"]
    assert timeline["ended_at"] is None and timeline["duration_ms"] > 0
    expected = timeline["expected_next"]
    assert expected["event_types"] == [
        "PAID_BOOKING_EVENT",
        "INSUFFICIENT_FUND_EVENT",
        "PAYMENT_EXPIRED_EVENT",
    ]
    assert expected["producer"] == "payment"
    assert expected["note"].startswith("waiting for the customer's payment")
    assert [step["producer"] for step in timeline["steps"]] == ["booking", "manager", "billing"]


async def test_a_reserved_saga_has_five_steps_in_one_trace(client_as, redis, settings) -> None:
    saga = await billed_saga(client_as("alice"), redis, settings)
    paid = PaidBooking(booking_id=saga.booking_id, paid_at=saga.last.occurred_at, **ROOM)
    await saga.deliver(paid, "payment")
    await saga.steps(4)
    invoiced = InvoiceGenerated(
        booking_id=saga.booking_id, invoice_id=uuid.uuid4(), invoice_number="INV-1", total="120"
    )
    await saga.deliver(invoiced, "invoice")
    timeline = await saga.steps(5)
    assert event_types(timeline)[-2:] == ["PAID_BOOKING_EVENT", "INVOICE_GENERATED_EVENT"]
    assert timeline["status"] == "reserved" and timeline["finished"]
    assert timeline["expected_next"] is None and timeline["ended_at"] is not None
    saga_trace = trace_id(saga.headers)
    assert saga_trace is not None and timeline["trace_id"] == saga_trace
    assert {step["trace_id"] for step in timeline["steps"]} == {saga_trace}
    steps = timeline["steps"]
    assert all(step["since_previous_ms"] >= 0 for step in steps)
    assert [s["causation_id"] for s in steps[1:4]] == [s["event_id"] for s in steps[:3]]


async def test_a_compensated_saga_ends_failed(client_as, redis, settings) -> None:
    saga = await billed_saga(client_as("alice"), redis, settings)
    short = InsufficientFund(
        booking_id=saga.booking_id, customer_id="alice", amount="120", available_credit="5"
    )
    await saga.deliver(short, "payment")
    timeline = await saga.steps(4)
    assert event_types(timeline)[-1] == "INSUFFICIENT_FUND_EVENT"
    assert timeline["status"] == "failed" and timeline["finished"]
    assert timeline["expected_next"] is None
    assert timeline["duration_ms"] >= sum(s["since_previous_ms"] for s in timeline["steps"]) - 1


async def test_an_unpaid_saga_ends_expired_when_the_payment_deadline_passes(
    client_as, redis, settings
) -> None:
    saga = await billed_saga(client_as("alice"), redis, settings)
    expired = PaymentExpired(
        booking_id=saga.booking_id,
        customer_id="alice",
        amount="120",
        expired_at=datetime.now(UTC),
        reason="payment timed out",
    )
    await saga.deliver(expired, "payment")
    timeline = await saga.steps(4)
    assert event_types(timeline)[-1] == "PAYMENT_EXPIRED_EVENT"
    assert timeline["status"] == "expired" and timeline["finished"]
    assert timeline["expected_next"] is None
    booking = (await saga.client.get(f"/bookings/{saga.booking_id}")).json()
    assert booking["status"] == "expired" and booking["reason"] == "payment timed out"


async def test_an_event_delivered_twice_is_journaled_once(
    client_as, redis, settings, engine
) -> None:
    saga = Saga(client_as("alice"), redis, settings)
    await saga.start()
    approved = await saga.deliver(saga.approved(), "manager")
    stream = settings.event_prefix + "APPROVED_BOOKING_EVENT"
    [(_, fields)] = [
        (i, f)
        for i, f in await redis.xrange(stream)
        if str(approved.event_id).encode() in f[DATA_FIELD]
    ]
    await redis.xadd(stream, fields)  # the same message again, as after a crash before XACK
    assert await eventually(lambda: consumed(redis, stream, "booking"))
    assert await count_rows(engine, saga_journal, event_id=approved.event_id) == 1
    assert await count_rows(engine, messaging.inbox, event_id=approved.event_id) == 1
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(saga_journal).where(saga_journal.c.booking_id == saga.booking_id)
            )
        ).all()
    assert sorted(row.event_type for row in rows) == [
        "APPROVED_BOOKING_EVENT",
        "CREATED_BOOKING_EVENT",
    ]


async def test_timeline_of_unknown_or_malformed_booking(client) -> None:
    assert (await client.get(f"/bookings/{uuid.uuid4()}/timeline")).status_code == 404
    malformed = await client.get("/bookings/nope/timeline")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "booking_id"]


async def test_old_journal_rows_are_purged_and_the_timeline_still_answers(
    service, settings: Settings, redis, engine, bearer
) -> None:
    purging = settings.model_copy(
        update={"journal_retention_days": 90, "retention_interval_seconds": 0.2}
    )
    async with running_app(service.create_app(purging), bearer("alice", "customer")) as client:
        saga = Saga(client, redis, purging)
        await saga.start()  # its CREATED step is journaled
        async with engine.begin() as conn:  # ... as if 91 days ago
            await conn.execute(
                update(saga_journal)
                .where(saga_journal.c.booking_id == saga.booking_id)
                .values(recorded_at=func.now() - timedelta(days=91))
            )

        async def purged() -> bool:
            return await count_rows(engine, saga_journal, booking_id=saga.booking_id) == 0

        assert await eventually(purged)
        timeline = await saga.timeline()
        assert timeline["steps"] == [] and timeline["status"] == "pending"
