import asyncio
import uuid
from collections.abc import Awaitable

from redis.asyncio import Redis
from sqlalchemy import text

from booking.config import Settings
from sagakit.events import Envelope
from sagakit.testing import code_head, eventually, read_envelopes, running_app

HEAD = code_head("booking:migrations")


def customer() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


async def test_a_customer_books_for_itself_then_reads_its_booking(client_as) -> None:
    alice = customer()
    as_alice = client_as(alice)
    created = await as_alice.post("/bookings", json={"item": "Room 7", "amount": "120.5"})
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "pending" and body["amount"] == "120.50"
    assert body["customer_id"] == alice  # from the token's subject
    assert created.headers["location"] == f"/bookings/{body['id']}"
    fetched = await as_alice.get(f"/bookings/{body['id']}")
    assert fetched.json()["id"] == body["id"]


async def test_an_admin_books_on_behalf_of_the_customer_it_names(client) -> None:
    alice = customer()
    created = await client.post(
        "/bookings", json={"customer_id": alice, "item": "Room 7", "amount": "1"}
    )
    assert created.status_code == 201 and created.json()["customer_id"] == alice
    unnamed = await client.post("/bookings", json={"item": "Room 7", "amount": "1"})
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["loc"] == ["body", "customer_id"]


async def test_created_booking_event_reaches_the_stream(
    client_as, redis: Redis, settings: Settings
) -> None:
    created = (await client_as("al").post("/bookings", json={"item": "R", "amount": "5"})).json()
    stream = f"{settings.event_prefix}CREATED_BOOKING_EVENT"

    async def published() -> list[Envelope]:
        envelopes = await read_envelopes(redis, stream)
        return [e for e in envelopes if str(e.booking_id) == created["id"]]

    assert await eventually(lambda: _truthy(published()))
    [envelope] = await published()
    assert envelope.producer == "booking"
    assert envelope.payload == {"customer_id": "al", "item": "R", "amount": "5.00"}


async def _truthy(result: Awaitable[list[Envelope]]) -> bool:
    return bool(await result)


async def test_bad_input_is_a_422_naming_the_field(client) -> None:
    cases = {
        "amount": {"customer_id": "a", "item": "R", "amount": "0"},
        "customer_id": {"customer_id": "", "item": "R", "amount": "1"},
        "extra": {"customer_id": "a", "item": "R", "amount": "1", "extra": True},
    }
    for field, body in cases.items():
        response = await client.post("/bookings", json=body)
        assert response.status_code == 422
        assert field in {error["loc"][-1] for error in response.json()["detail"]}
    negative = await client.post(
        "/bookings", json={"customer_id": "a", "item": "R", "amount": "-3"}
    )
    assert negative.status_code == 422


async def test_unknown_and_malformed_ids(client) -> None:
    assert (await client.get(f"/bookings/{uuid.uuid4()}")).status_code == 404
    malformed = await client.get("/bookings/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "booking_id"]


async def test_list_filters_and_pages(client, client_as) -> None:
    carol = customer()
    for _ in range(3):
        await client_as(carol).post("/bookings", json={"item": "R", "amount": "1"})
    page = (await client.get("/bookings", params={"customer_id": carol, "limit": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    pending = await client.get("/bookings", params={"customer_id": carol, "status": "pending"})
    assert pending.json()["total"] == 3
    assert (await client.get("/bookings", params={"status": "nope"})).status_code == 422


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
    assert "CREATED_BOOKING_EVENT" in (await client.get("/asyncapi.json")).text


async def test_a_lost_database_connection_is_a_503_then_the_pool_recovers(
    service, settings: Settings, engine, bearer
) -> None:
    # Nothing else in the app touches the database meanwhile: no relay poll, no sampling.
    quiet = settings.model_copy(update={"relay_poll_seconds": 600, "metrics_interval_seconds": 600})
    operator = bearer("operator", "manager")
    async with running_app(service.create_app(quiet), operator) as client:
        missing = f"/bookings/{uuid.uuid4()}"
        assert (await client.get(missing)).status_code == 404  # a pooled connection exists
        await asyncio.sleep(0.5)  # the relay's and the sampler's first runs are over
        async with engine.connect() as conn:  # what a database restart does to it
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        lost = await client.get(missing)
        assert lost.status_code == 503, lost.text
        assert lost.headers["retry-after"] == "1"
        assert "retry" in lost.json()["detail"]
        assert (await client.get(missing)).status_code == 404  # a new connection


async def test_no_free_database_connection_is_a_503_with_retry_after(
    service, settings: Settings, bearer
) -> None:
    tight = settings.model_copy(
        update={
            "db_pool_size": 1,
            "db_max_overflow": 0,
            "db_pool_timeout_seconds": 0.2,
            "relay_poll_seconds": 600,
            "metrics_interval_seconds": 600,
        }
    )
    app = service.create_app(tight)
    async with running_app(app, bearer("operator", "manager")) as client:
        await asyncio.sleep(0.5)  # the relay's and the sampler's first runs are over
        async with app.state.runtime.engine.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            busy = await client.get(f"/bookings/{uuid.uuid4()}")
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "1"
        assert "busy" in busy.json()["detail"]
        assert (await client.get(f"/bookings/{uuid.uuid4()}")).status_code == 404
