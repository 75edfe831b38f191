"""Events only from those allowed to send them, on the five running services.

The issue's reproduction first: one hand-written PAID_BOOKING_EVENT used to turn an
unpaid booking into `reserved`. Now every consumer dead-letters it with the reason and
nothing changes. The harness's own Redis connection plays the intruder (it is not a
service's ACL user); the services run under theirs.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from sagakit.deadletter import DeadLetter, DeadLetterQueue
from sagakit.events import Envelope, EventType, PaidBooking
from sagakit.testing import eventually, wire
from sagakit.wire import DATA_FIELD

PAID_BY = {"billing", "invoice", "booking"}  # who hears PAID_BOOKING_EVENT


@pytest.fixture(params=["streams", "pubsub"])
def live(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


async def unpaid_booking(live: Any) -> tuple[str, str]:
    """A billed booking waiting for its payment; returns (booking id, customer)."""
    customer = await live.customer(Decimal("10.00"))
    booking_id = await live.book(customer, Decimal("5000.00"))
    await live.billed(booking_id)
    return booking_id, customer


def forged_payment(booking_id: str, customer: str) -> Envelope:
    event = PaidBooking(
        booking_id=uuid.UUID(booking_id),
        customer_id=customer,
        item="Room 42",
        amount=Decimal("5000.00"),
        paid_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, "payment", causation_id=None)


async def deliver(live: Any, event_type: str, data: bytes) -> None:
    """What an intruder with a Redis connection does: XADD, or PUBLISH over Pub/Sub."""
    name = live.stream(event_type)
    if live.stack.extra_env["EVENT_TRANSPORT"] == "pubsub":
        await live.redis.publish(name, data)
    else:
        await live.redis.xadd(name, {DATA_FIELD: data})


async def dead_letters_of(live: Any, envelope: Envelope, consumers: set[str]) -> list[DeadLetter]:
    queue = DeadLetterQueue(live.redis, live.prefix + "saga.dead-letters")

    async def letters() -> list[DeadLetter]:
        return [d for d in await queue.list(10_000) if d.event_id == str(envelope.event_id)]

    async def all_arrived() -> bool:
        return {letter.consumer for letter in await letters()} == consumers

    assert await eventually(all_arrived, timeout=20), await letters()
    return await letters()


async def snapshot(live: Any, booking_id: str, customer: str) -> dict[str, Any]:
    client = live.client
    return {
        "booking": (await client.find("booking", f"/bookings/{booking_id}") or {}).get("status"),
        "bill": (await client.find("billing", f"/bills/{booking_id}") or {}).get("status"),
        "payment": (await client.find("payment", f"/payments/{booking_id}") or {}).get("status"),
        "invoice": await client.find("invoice", f"/invoices/{booking_id}"),
        "credit": (await client.find("payment", f"/customers/{customer}") or {}).get("credit"),
    }


async def test_a_hand_written_paid_event_is_dead_lettered_and_changes_nothing(live) -> None:
    booking_id, customer = await unpaid_booking(live)
    before = await snapshot(live, booking_id, customer)
    assert before["payment"] == "awaiting_payment" and before["invoice"] is None
    envelope = forged_payment(booking_id, customer)
    hand_written = json.dumps({"data": envelope.model_dump_json(), "headers": {}}).encode()
    await deliver(live, EventType.PAID_BOOKING_EVENT, hand_written)
    letters = await dead_letters_of(live, envelope, PAID_BY)
    for letter in letters:
        assert letter.error == "rejected: unsigned (producer payment signs every event)"
        assert letter.raw[DATA_FIELD] == hand_written  # the record keeps it byte for byte
    assert await snapshot(live, booking_id, customer) == before


async def test_a_payment_signed_by_another_service_is_dead_lettered(live) -> None:
    booking_id, customer = await unpaid_booking(live)
    before = await snapshot(live, booking_id, customer)
    envelope = forged_payment(booking_id, customer).model_copy(update={"producer": "billing"})
    await deliver(live, EventType.PAID_BOOKING_EVENT, wire(envelope))  # billing's own key
    for letter in await dead_letters_of(live, envelope, PAID_BY):
        assert "producer 'billing' may not publish PAID_BOOKING_EVENT" in letter.error
    assert await snapshot(live, booking_id, customer) == before


async def test_an_event_on_another_events_stream_is_dead_lettered(live) -> None:
    booking_id, customer = await unpaid_booking(live)
    before = await snapshot(live, booking_id, customer)
    envelope = forged_payment(booking_id, customer)
    await deliver(live, EventType.INVOICE_GENERATED_EVENT, wire(envelope))  # payment's key
    [letter] = await dead_letters_of(live, envelope, {"booking"})
    assert letter.error.startswith("rejected: a PAID_BOOKING_EVENT arrived on")
    assert await snapshot(live, booking_id, customer) == before


async def test_an_altered_signed_bill_is_dead_lettered(streams) -> None:
    booking_id, customer = await unpaid_booking(streams)
    stream = streams.stream(EventType.BILLED_BOOKING_EVENT)
    [original] = [
        fields
        for _, fields in await streams.redis.xrange(stream)
        if booking_id.encode() in fields[DATA_FIELD]
    ]
    message = json.loads(original[DATA_FIELD])
    message["data"] = message["data"].replace('"5000.00"', '"0.01"')
    envelope = Envelope.model_validate_json(message["data"])
    payment = await streams.client.find("payment", f"/payments/{booking_id}")
    await streams.redis.xadd(stream, {DATA_FIELD: json.dumps(message)})
    kid = streams.security.keyring.keys["billing"].kid
    for letter in await dead_letters_of(streams, envelope, {"payment", "booking"}):
        assert letter.error == (
            f"rejected: signature by billing's key {kid!r} does not match the message"
        )
    assert await streams.client.find("payment", f"/payments/{booking_id}") == payment
    assert (await snapshot(streams, booking_id, customer))["payment"] == "awaiting_payment"


async def test_each_service_publishes_only_its_own_events_through_its_redis_user(
    streams,
) -> None:
    payment = Redis.from_url(streams.security.own_urls["payment"])
    try:
        with pytest.raises(NoPermissionError):
            await payment.xadd(streams.stream(EventType.INVOICE_GENERATED_EVENT), {"x": "y"})
        with pytest.raises(NoPermissionError):
            await payment.xrange(streams.stream(EventType.PAID_BOOKING_EVENT))
    finally:
        await payment.aclose()


async def test_the_services_ran_whole_sagas_without_a_refused_command(live) -> None:
    services = set(live.security.users()) - {live.prefix + "operator"}
    assert len(services) == 5
    before = await refusals(live.redis, services)  # e.g. the NOPERM test's own, above
    customer = await live.customer(Decimal("500.00"))
    booking_id = await live.book(customer)
    await live.billed(booking_id)
    await live.pay(booking_id)
    await live.booking_status(booking_id, "reserved")
    assert await refusals(live.redis, services) == before


async def refusals(redis: Redis, users: set[str]) -> dict[tuple[str, str, str], int]:
    """ACL LOG entries of `users`: (user, reason, object) -> count."""
    found = {}
    for entry in await redis.acl_log():
        if entry["username"] in users:
            found[(entry["username"], entry["reason"], entry["object"])] = int(entry["count"])
    return found
