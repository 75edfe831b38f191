"""POST /payments accepts an Idempotency-Key; a refusal (409) is not stored with it."""

import uuid

from redis.asyncio import Redis

from payment.config import Settings

from .test_api import customer_id, send_bill, wait_for_payment


async def test_a_key_refused_before_the_bill_works_once_it_arrived(
    client, client_as, redis: Redis, settings: Settings
) -> None:
    alice, key = customer_id(), {"Idempotency-Key": str(uuid.uuid4())}
    as_alice = client_as(alice)
    booking_id = uuid.uuid4()
    body = {"booking_id": str(booking_id)}
    assert (await as_alice.post("/payments", json=body, headers=key)).status_code == 409

    await send_bill(redis, settings, alice, "30.00", booking_id)
    await wait_for_payment(client, booking_id)
    await client.put(f"/customers/{alice}/credit", json={"amount": "100"})
    paid = await as_alice.post("/payments", json=body, headers=key)
    again = await as_alice.post("/payments", json=body, headers=key)

    assert paid.status_code == again.status_code == 200
    assert "idempotent-replayed" not in paid.headers
    assert again.headers["idempotent-replayed"] == "true" and again.json() == paid.json()
    assert (await as_alice.get(f"/customers/{alice}")).json()["credit"] == "70.00"


async def test_the_openapi_document_shows_the_header(client) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/payments"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
    assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
