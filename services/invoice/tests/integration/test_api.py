import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal

from redis.asyncio import Redis

from invoice.config import Settings
from sagakit.events import Envelope, PaidBooking
from sagakit.testing import consumed, eventually, read_envelopes, xadd_envelope


def paid_envelope(booking_id: uuid.UUID, customer_id: str = "alice") -> Envelope:
    event = PaidBooking(
        booking_id=booking_id,
        customer_id=customer_id,
        item="Room 7, 2 nights",
        amount=Decimal("120.50"),
        paid_at=datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
    )
    return Envelope.wrap(event, "payment", causation_id=None)


async def deliver(redis: Redis, settings: Settings, envelope: Envelope) -> None:
    """XADD the envelope the way payment's outbox relay publishes it."""
    await xadd_envelope(redis, paid_stream(settings), envelope)


def paid_stream(settings: Settings) -> str:
    return f"{settings.event_prefix}PAID_BOOKING_EVENT"


async def published(redis: Redis, settings: Settings, booking_id: uuid.UUID) -> list[Envelope]:
    envelopes = await read_envelopes(redis, f"{settings.event_prefix}INVOICE_GENERATED_EVENT")
    return [e for e in envelopes if e.booking_id == booking_id]


async def invoiced(client, booking_id: uuid.UUID) -> bool:
    return (await client.get(f"/invoices/{booking_id}")).status_code == 200


async def _truthy(result: Awaitable[list[Envelope]]) -> bool:
    return bool(await result)


async def test_paid_booking_on_the_stream_generates_and_publishes_the_invoice(
    client, redis: Redis, settings: Settings
) -> None:
    booking_id = uuid.uuid4()
    paid = paid_envelope(booking_id)
    await deliver(redis, settings, paid)
    assert await eventually(lambda: invoiced(client, booking_id))
    body = (await client.get(f"/invoices/{booking_id}")).json()
    assert body["booking_id"] == str(booking_id) and body["customer_id"] == "alice"
    assert body["number"].startswith(f"INV-{datetime.now(UTC).year}-")
    assert body["lines"] == [
        {
            "description": "Room 7, 2 nights",
            "quantity": 1,
            "unit_price": "120.50",
            "amount": "120.50",
        }
    ]
    assert body["total"] == "120.50" and body["paid_at"].startswith("2026-05-01T12:00")
    assert await eventually(lambda: _truthy(published(redis, settings, booking_id)))
    [envelope] = await published(redis, settings, booking_id)
    assert envelope.producer == "invoice" and envelope.causation_id == paid.event_id
    assert envelope.payload == {
        "invoice_id": body["id"],
        "invoice_number": body["number"],
        "total": "120.50",
    }


async def test_the_same_envelope_delivered_twice_yields_one_invoice(
    client, redis: Redis, settings: Settings
) -> None:
    booking_id = uuid.uuid4()
    customer = f"c{uuid.uuid4().hex[:8]}"
    paid = paid_envelope(booking_id, customer)
    await deliver(redis, settings, paid)
    assert await eventually(lambda: invoiced(client, booking_id))
    await deliver(redis, settings, paid)  # a redelivery: the inbox drops it
    await deliver(redis, settings, paid_envelope(booking_id, customer))  # new event id
    assert await eventually(lambda: consumed(redis, paid_stream(settings), "invoice"))
    page = (await client.get("/invoices", params={"customer_id": customer})).json()
    assert page["total"] == 1
    assert await eventually(lambda: _truthy(published(redis, settings, booking_id)))
    assert len(await published(redis, settings, booking_id)) == 1


async def test_unknown_and_malformed_ids(client) -> None:
    assert (await client.get(f"/invoices/{uuid.uuid4()}")).status_code == 404
    malformed = await client.get("/invoices/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "booking_id"]


async def test_list_filters_by_customer_and_pages_newest_first(
    client, redis: Redis, settings: Settings
) -> None:
    customer = f"c{uuid.uuid4().hex[:8]}"
    booking_ids = [uuid.uuid4() for _ in range(3)]
    for booking_id in booking_ids:
        await deliver(redis, settings, paid_envelope(booking_id, customer))
        assert await eventually(lambda booking_id=booking_id: invoiced(client, booking_id))
    page = (await client.get("/invoices", params={"customer_id": customer, "limit": 2})).json()
    assert page["total"] == 3 and page["limit"] == 2 and len(page["items"]) == 2
    assert [item["booking_id"] for item in page["items"]] == [str(b) for b in booking_ids[:0:-1]]
    rest = (
        await client.get("/invoices", params={"customer_id": customer, "limit": 2, "offset": 2})
    ).json()
    assert [item["booking_id"] for item in rest["items"]] == [str(booking_ids[0])]
    assert (await client.get("/invoices", params={"customer_id": ""})).status_code == 422
    assert (await client.get("/invoices", params={"limit": 0})).status_code == 422


async def test_health_and_readiness(client) -> None:
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
    assert "PAID_BOOKING_EVENT" in spec and "INVOICE_GENERATED_EVENT" in spec
