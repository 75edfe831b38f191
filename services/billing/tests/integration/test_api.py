import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from billing.config import Settings
from sagakit.events import (
    ApprovedBooking,
    Envelope,
    EventType,
    InsufficientFund,
    PaidBooking,
    SagaEvent,
)
from sagakit.testing import consumed, eventually, read_envelopes, xadd_envelope


def customer() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


def approval(customer_id: str = "alice") -> Envelope:
    event = ApprovedBooking(
        booking_id=uuid.uuid4(), customer_id=customer_id, item="Room 7", amount=Decimal("120.5")
    )
    return Envelope.wrap(event, "manager", causation_id=None)


def outcome(event: SagaEvent) -> Envelope:
    return Envelope.wrap(event, "payment", causation_id=None)


async def deliver(redis: Redis, settings: Settings, envelope: Envelope) -> None:
    """XADD an envelope the way another service's relay does."""
    await xadd_envelope(redis, f"{settings.event_prefix}{envelope.event_type}", envelope)


async def published(redis: Redis, settings: Settings, booking_id: uuid.UUID) -> list[Envelope]:
    stream = f"{settings.event_prefix}{EventType.BILLED_BOOKING_EVENT}"
    return [e for e in await read_envelopes(redis, stream) if e.booking_id == booking_id]


async def bill_in(client, booking_id: uuid.UUID, status: str) -> dict[str, Any]:
    """Wait until the booking's bill exists with `status`, and return it."""

    async def reached() -> bool:
        response = await client.get(f"/bills/{booking_id}")
        return response.status_code == 200 and response.json()["status"] == status

    assert await eventually(reached), f"bill of {booking_id} never became {status}"
    body: dict[str, Any] = (await client.get(f"/bills/{booking_id}")).json()
    return body


async def test_an_approval_issues_a_bill_and_publishes_billed_booking(
    client, redis: Redis, settings: Settings
) -> None:
    approved = approval()
    await deliver(redis, settings, approved)
    bill = await bill_in(client, approved.booking_id, "pending")
    assert bill["amount"] == "120.50" and bill["customer_id"] == "alice"
    assert bill["reason"] is None

    async def billed() -> bool:
        return bool(await published(redis, settings, approved.booking_id))

    assert await eventually(billed)
    [envelope] = await published(redis, settings, approved.booking_id)
    assert envelope.producer == "billing"
    assert envelope.causation_id == approved.event_id
    assert envelope.payload == {
        "bill_id": bill["id"],
        "customer_id": "alice",
        "item": "Room 7",
        "amount": "120.50",
    }


async def test_the_same_approval_delivered_twice_gives_one_bill(
    client, redis: Redis, settings: Settings
) -> None:
    approved = approval(customer())
    await deliver(redis, settings, approved)
    await deliver(redis, settings, approved)
    stream = f"{settings.event_prefix}{EventType.APPROVED_BOOKING_EVENT}"
    assert await eventually(lambda: consumed(redis, stream, "billing"))  # both read and acked
    page = await client.get("/bills", params={"customer_id": approved.payload["customer_id"]})
    assert page.json()["total"] == 1
    assert len(await published(redis, settings, approved.booking_id)) == 1


async def test_insufficient_funds_fail_the_bill(client, redis: Redis, settings: Settings) -> None:
    approved = approval()
    await deliver(redis, settings, approved)
    await bill_in(client, approved.booking_id, "pending")
    shortfall = InsufficientFund(
        booking_id=approved.booking_id,
        customer_id="alice",
        amount=Decimal("120.50"),
        available_credit=Decimal("20.00"),
    )
    await deliver(redis, settings, outcome(shortfall))
    bill = await bill_in(client, approved.booking_id, "failed")
    assert "20.00" in bill["reason"] and "120.50" in bill["reason"]


async def test_a_payment_marks_the_bill_paid(client, redis: Redis, settings: Settings) -> None:
    approved = approval()
    await deliver(redis, settings, approved)
    await bill_in(client, approved.booking_id, "pending")
    paid = PaidBooking(
        booking_id=approved.booking_id,
        customer_id="alice",
        item="Room 7",
        amount=Decimal("120.50"),
        paid_at=datetime.now(UTC),
    )
    await deliver(redis, settings, outcome(paid))
    bill = await bill_in(client, approved.booking_id, "paid")
    assert bill["updated_at"] > bill["created_at"]


async def test_unknown_and_malformed_booking_ids(client) -> None:
    assert (await client.get(f"/bills/{uuid.uuid4()}")).status_code == 404
    malformed = await client.get("/bills/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "booking_id"]


async def test_list_filters_and_pages_newest_first(
    client, redis: Redis, settings: Settings
) -> None:
    who = customer()
    approvals = [approval(who) for _ in range(3)]
    for approved in approvals:
        await deliver(redis, settings, approved)
        await bill_in(client, approved.booking_id, "pending")
    page = (await client.get("/bills", params={"customer_id": who, "limit": 2})).json()
    assert page["total"] == 3 and page["limit"] == 2 and len(page["items"]) == 2
    rest = (await client.get("/bills", params={"customer_id": who, "offset": 2})).json()
    newest_first = [item["booking_id"] for item in page["items"] + rest["items"]]
    assert newest_first == [str(approved.booking_id) for approved in reversed(approvals)]
    pending = await client.get("/bills", params={"customer_id": who, "status": "pending"})
    assert pending.json()["total"] == 3
    paid = await client.get("/bills", params={"customer_id": who, "status": "paid"})
    assert paid.json()["total"] == 0
    assert (await client.get("/bills", params={"status": "nope"})).status_code == 422


async def test_health_readiness_and_event_documentation(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = (await client.get("/readyz")).json()
    assert ready == {
        "status": "ok",
        "checks": {
            "consumers": "ok",
            "database": "ok",
            "redis": "ok",
            "schema": "current: database at 0003, code at 0003",
        },
    }
    spec = (await client.get("/asyncapi.json")).text
    assert "BILLED_BOOKING_EVENT" in spec and "APPROVED_BOOKING_EVENT" in spec
