import asyncio
import uuid
from decimal import Decimal

from redis.asyncio import Redis

from payment.config import Settings
from payment.entrypoints.app import create_app
from sagakit.events import BilledBooking, Envelope, EventType
from sagakit.testing import (
    app_client,
    code_head,
    eventually,
    read_envelopes,
    running_app,
    xadd_envelope,
)

HEAD = code_head("payment:migrations")


def customer_id() -> str:
    return f"c{uuid.uuid4().hex[:12]}"


async def send_bill(
    redis: Redis,
    settings: Settings,
    customer: str,
    amount: str,
    booking_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """XADD a BILLED_BOOKING_EVENT the way billing's outbox relay publishes it."""
    event = BilledBooking(
        booking_id=booking_id or uuid.uuid4(),
        bill_id=uuid.uuid4(),
        customer_id=customer,
        item="Room 7",
        amount=Decimal(amount),
    )
    envelope = Envelope.wrap(event, "billing", causation_id=None)
    await xadd_envelope(redis, f"{settings.event_prefix}BILLED_BOOKING_EVENT", envelope)
    return event.booking_id


async def wait_for_payment(client, booking_id: uuid.UUID) -> dict:
    async def opened() -> bool:
        return (await client.get(f"/payments/{booking_id}")).status_code == 200

    assert await eventually(opened), f"no payment request for booking {booking_id}"
    return (await client.get(f"/payments/{booking_id}")).json()


async def published(
    redis: Redis, settings: Settings, event_type: EventType, booking_id: uuid.UUID
) -> list[Envelope]:
    envelopes = await read_envelopes(redis, f"{settings.event_prefix}{event_type}")
    return [e for e in envelopes if e.booking_id == booking_id]


async def test_a_billed_booking_is_paid_once_and_paid_booking_is_published(
    client, client_as, redis: Redis, settings: Settings
) -> None:
    alice = customer_id()
    as_alice = client_as(alice)
    booking_id = await send_bill(redis, settings, alice, "120.5")
    opened = await wait_for_payment(client, booking_id)
    assert opened["status"] == "awaiting_payment"
    assert opened["amount"] == opened["amount_due"] == "120.50"
    assert opened["settled_at"] is None
    credit = await client.put(f"/customers/{alice}/credit", json={"amount": "200"})
    assert credit.status_code == 200 and credit.json()["credit"] == "200.00"
    paid = await as_alice.post("/payments", json={"booking_id": str(booking_id)})
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid" and paid.json()["amount_due"] == "0.00"

    async def announced() -> bool:
        return bool(await published(redis, settings, EventType.PAID_BOOKING_EVENT, booking_id))

    assert await eventually(announced)
    again = await as_alice.post("/payments", json={"booking_id": str(booking_id)})
    assert again.json() == paid.json()
    assert (await as_alice.get(f"/customers/{alice}")).json()["credit"] == "79.50"
    [envelope] = await published(redis, settings, EventType.PAID_BOOKING_EVENT, booking_id)
    assert envelope.producer == "payment"
    assert envelope.payload["customer_id"] == alice and envelope.payload["amount"] == "120.50"


async def test_short_credit_publishes_insufficient_fund_and_keeps_the_credit(
    client, client_as, redis: Redis, settings: Settings
) -> None:
    bob = customer_id()
    booking_id = await send_bill(redis, settings, bob, "50.00")
    await wait_for_payment(client, booking_id)
    await client.put(f"/customers/{bob}/credit", json={"amount": "20.00"})
    refused = await client_as(bob).post("/payments", json={"booking_id": str(booking_id)})
    assert refused.status_code == 200 and refused.json()["status"] == "insufficient_funds"
    stream = EventType.INSUFFICIENT_FUND_EVENT

    async def announced() -> bool:
        return bool(await published(redis, settings, stream, booking_id))

    assert await eventually(announced)
    [envelope] = await published(redis, settings, stream, booking_id)
    assert envelope.payload == {"customer_id": bob, "amount": "50.00", "available_credit": "20.00"}
    assert (await client.get(f"/customers/{bob}")).json()["credit"] == "20.00"


async def test_paying_before_the_bill_arrives_is_a_409_saying_to_retry(client_as) -> None:
    booking_id = uuid.uuid4()
    response = await client_as(customer_id()).post(
        "/payments", json={"booking_id": str(booking_id)}
    )
    assert response.status_code == 409
    assert str(booking_id) in response.json()["detail"]
    assert "retry shortly" in response.json()["detail"]


async def test_put_credit_sets_the_credit_rather_than_adding(client) -> None:
    alice = customer_id()
    await client.put(f"/customers/{alice}/credit", json={"amount": "50"})
    second = await client.put(f"/customers/{alice}/credit", json={"amount": "20.5"})
    assert second.json()["credit"] == "20.50"
    fetched = (await client.get(f"/customers/{alice}")).json()
    assert fetched["customer_id"] == alice and fetched["credit"] == "20.50"


async def test_bad_input_is_a_422_naming_the_field(client, client_as) -> None:
    credit_cases = {
        "amount": {"amount": "0"},
        "extra": {"amount": "1", "extra": True},
    }
    for field, body in credit_cases.items():
        response = await client.put("/customers/alice/credit", json=body)
        assert response.status_code == 422
        assert field in {error["loc"][-1] for error in response.json()["detail"]}
    negative = await client.put("/customers/alice/credit", json={"amount": "-3"})
    assert negative.status_code == 422
    for bad_id in ("-alice", "al%20ice", "a" * 65):
        response = await client.put(f"/customers/{bad_id}/credit", json={"amount": "1"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "customer_id"]
    payer = client_as(customer_id())
    for body in ({"booking_id": "nope"}, {"booking_id": str(uuid.uuid4()), "extra": 1}, {}):
        assert (await payer.post("/payments", json=body)).status_code == 422


async def test_a_credit_is_a_decimal_string_checked_before_conversion(client) -> None:
    carol = customer_id()
    refused = ["1e30", "9" * 5000, "NaN", "Infinity", "1e400", "10.999", "\u0661", "1_000"]
    for amount in [*refused, 100, 1.5]:
        response = await client.put(f"/customers/{carol}/credit", json={"amount": amount})
        assert response.status_code == 422, (amount, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "amount"]
    assert (await client.get(f"/customers/{carol}")).status_code == 404  # nothing was set


async def test_unknown_and_malformed_ids(client) -> None:
    assert (await client.get(f"/payments/{uuid.uuid4()}")).status_code == 404
    assert (await client.get(f"/customers/{customer_id()}")).status_code == 404
    malformed = await client.get("/payments/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "booking_id"]
    assert (await client.get("/customers/-bad")).status_code == 422


async def test_list_filters_and_pages(client, client_as, redis: Redis, settings: Settings) -> None:
    carol = customer_id()
    booked = []
    for _ in range(3):
        booked.append(await send_bill(redis, settings, carol, "10.00"))
        await wait_for_payment(client, booked[-1])  # one at a time: a known creation order
    await client.put(f"/customers/{carol}/credit", json={"amount": "10.00"})
    await client_as(carol).post("/payments", json={"booking_id": str(booked[0])})
    page = (await client.get("/payments", params={"customer_id": carol, "limit": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert page["items"][0]["booking_id"] == str(booked[-1])  # newest first
    awaiting = await client.get(
        "/payments", params={"customer_id": carol, "status": "awaiting_payment"}
    )
    assert awaiting.json()["total"] == 2
    paid = (await client.get("/payments", params={"customer_id": carol, "status": "paid"})).json()
    assert [p["booking_id"] for p in paid["items"]] == [str(booked[0])]
    assert (await client.get("/payments", params={"status": "nope"})).status_code == 422


async def test_health_and_readiness(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    ready = (await client.get("/readyz")).json()
    assert ready == {
        "status": "ok",
        "checks": {
            "consumers": "ok",
            "database": "ok",
            "redis": "ok",
            "schema": f"current: database at {HEAD}, code at {HEAD}",
        },
    }
    spec = (await client.get("/asyncapi.json")).text
    for event_type in ("BILLED_BOOKING_EVENT", "PAID_BOOKING_EVENT", "INSUFFICIENT_FUND_EVENT"):
        assert event_type in spec


async def test_openapi_documents_that_credit_is_set_not_added(client) -> None:
    openapi = (await client.get("/openapi.json")).json()
    put = openapi["paths"]["/customers/{customer_id}/credit"]["put"]
    assert "never adds" in put["description"]
    body = openapi["components"]["schemas"]["CreditUpdate"]
    assert "set, not added" in body["properties"]["amount"]["description"]
    assert "409" in openapi["paths"]["/payments"]["post"]["responses"]
    assert "503" in openapi["paths"]["/payments/{booking_id}"]["get"]["responses"]


async def test_a_long_poll_answers_once_the_bill_arrives(
    client, redis: Redis, settings: Settings
) -> None:
    booking_id = uuid.uuid4()
    query = {"wait_for": ["awaiting_payment", "paid"], "wait": 20}
    waiting = asyncio.create_task(client.get(f"/payments/{booking_id}", params=query))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # no bill can exist yet: the request is still waiting
    await send_bill(redis, settings, customer_id(), "12.00", booking_id)
    response = await asyncio.wait_for(waiting, 20)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "awaiting_payment"
    again = await client.get(f"/payments/{booking_id}", params=query)  # already there
    assert again.json()["status"] == "awaiting_payment"


async def test_a_long_poll_that_times_out_answers_with_what_there_is(client) -> None:
    missing = f"/payments/{uuid.uuid4()}"
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await client.get(missing, params={"wait_for": "awaiting_payment", "wait": 0.3})
    assert response.status_code == 404
    assert loop.time() - started >= 0.3
    for bad in ({"wait": 31, "wait_for": "paid"}, {"wait": 1, "wait_for": "late"}):
        invalid = await client.get(missing, params=bad)
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"][:2] in (["query", "wait"], ["query", "wait_for"])


async def test_an_unpaid_payment_expires_and_a_late_payment_is_refused(
    bearer, redis: Redis, settings: Settings
) -> None:
    # This service's deadline is one second, swept often.
    short = settings.model_copy(
        update={"payment_timeout_seconds": 1.0, "deadline_sweep_seconds": 0.2}
    )
    alice, app = customer_id(), create_app(short)
    async with (
        running_app(app, bearer("operator", "admin")) as client,
        app_client(app, bearer(alice, "customer")) as as_alice,
    ):
        await client.put(f"/customers/{alice}/credit", json={"amount": "200"})
        booking_id = await send_bill(redis, short, alice, "120")
        opened = await wait_for_payment(client, booking_id)
        assert opened["status"] == "awaiting_payment" and opened["expires_at"] is not None

        async def expired() -> bool:
            found = await published(redis, short, EventType.PAYMENT_EXPIRED_EVENT, booking_id)
            return bool(found)

        assert await eventually(expired)
        [envelope] = await published(redis, short, EventType.PAYMENT_EXPIRED_EVENT, booking_id)
        assert envelope.payload["reason"] == "payment timed out"
        assert envelope.payload["customer_id"] == alice and envelope.payload["amount"] == "120.00"
        shown = (await client.get(f"/payments/{booking_id}")).json()
        assert shown["status"] == "expired" and shown["amount_due"] == "0.00"
        late = await as_alice.post("/payments", json={"booking_id": str(booking_id)})
        assert late.status_code == 409
        assert "expired" in late.json()["detail"] and "nothing was charged" in late.json()["detail"]
        assert (await client.get(f"/customers/{alice}")).json()["credit"] == "200.00"
        assert await published(redis, short, EventType.PAID_BOOKING_EVENT, booking_id) == []
