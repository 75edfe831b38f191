"""POST /bookings with an Idempotency-Key: a retry answers the first booking, never a second."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.adapters.orm import bookings, idempotency_keys
from sagakit.retention import Expiry, purge

ROOM = {"item": "Room 7", "amount": "120.00"}


def customer() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


def keyed(key: str | bytes) -> dict[str, str | bytes]:
    return {"Idempotency-Key": key}


async def bookings_of(engine: AsyncEngine, customer_id: str) -> int:
    query = select(func.count()).where(bookings.c.customer_id == customer_id)
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def test_the_same_key_twice_creates_one_booking_and_replays_the_answer(
    client_as, engine: AsyncEngine
) -> None:
    alice = customer()
    as_alice, key = client_as(alice), str(uuid.uuid4())

    first = await as_alice.post("/bookings", json=ROOM, headers=keyed(key))
    # The same JSON written differently is the same request.
    again = await as_alice.post(
        "/bookings",
        content=b'{ "amount": "120.00",  "item": "Room 7" }',
        headers={**keyed(key), "Content-Type": "application/json"},
    )

    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert await bookings_of(engine, alice) == 1


async def test_concurrent_requests_with_one_key_make_one_booking(
    client_as, engine: AsyncEngine
) -> None:
    alice = customer()
    as_alice, key = client_as(alice), str(uuid.uuid4())

    answers = await asyncio.gather(
        *(as_alice.post("/bookings", json=ROOM, headers=keyed(key)) for _ in range(8))
    )

    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.text for answer in answers}) == 1  # one body, byte for byte
    assert sum("idempotent-replayed" in answer.headers for answer in answers) == 7
    assert await bookings_of(engine, alice) == 1


async def test_the_same_key_with_another_body_is_a_422_naming_the_header(
    client_as, engine: AsyncEngine
) -> None:
    alice = customer()
    as_alice, key = client_as(alice), str(uuid.uuid4())
    assert (await as_alice.post("/bookings", json=ROOM, headers=keyed(key))).status_code == 201

    other = await as_alice.post("/bookings", json={**ROOM, "amount": "99.00"}, headers=keyed(key))

    assert other.status_code == 422
    [error] = other.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert error["type"] == "idempotency_key_reused"
    assert await bookings_of(engine, alice) == 1


@pytest.mark.parametrize(
    "key",
    [b"", b"k" * 256, b"tab\there", b"nul\x00", b"caf\xc3\xa9"],
    ids=["empty", "256 characters", "tab", "NUL", "not ASCII"],
)
async def test_a_malformed_key_is_a_422_naming_the_header(
    client_as, engine: AsyncEngine, key: bytes
) -> None:
    alice = customer()
    refused = await client_as(alice).post("/bookings", json=ROOM, headers=keyed(key))
    assert refused.status_code == 422
    assert ["header", "Idempotency-Key"] in [error["loc"] for error in refused.json()["detail"]]
    assert await bookings_of(engine, alice) == 0


async def test_a_key_of_255_characters_or_quoted_is_accepted(client_as) -> None:
    as_alice = client_as(customer())
    longest = await as_alice.post("/bookings", json=ROOM, headers=keyed("k" * 255))
    assert longest.status_code == 201
    # A Structured Field string ("...") is the same key as its content.
    key = str(uuid.uuid4())
    quoted = await as_alice.post("/bookings", json=ROOM, headers=keyed(f'"{key}"'))
    bare = await as_alice.post("/bookings", json=ROOM, headers=keyed(key))
    assert bare.headers["idempotent-replayed"] == "true"
    assert bare.json()["id"] == quoted.json()["id"]


async def test_a_key_never_replays_another_callers_answer(client_as, engine: AsyncEngine) -> None:
    alice, bob, key = customer(), customer(), str(uuid.uuid4())

    for_alice = await client_as(alice).post("/bookings", json=ROOM, headers=keyed(key))
    for_bob = await client_as(bob).post("/bookings", json=ROOM, headers=keyed(key))

    assert for_bob.status_code == 201 and "idempotent-replayed" not in for_bob.headers
    assert for_bob.json()["customer_id"] == bob != for_alice.json()["customer_id"]
    assert await bookings_of(engine, alice) == await bookings_of(engine, bob) == 1


async def test_without_a_key_each_request_books(client_as, engine: AsyncEngine) -> None:
    alice = customer()
    as_alice = client_as(alice)
    answers = [await as_alice.post("/bookings", json=ROOM) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert not any("idempotent-replayed" in answer.headers for answer in answers)
    assert await bookings_of(engine, alice) == 2


async def test_a_refused_request_stores_no_key(client, engine: AsyncEngine) -> None:
    # An admin must name the customer: a 422 raised before anything is stored.
    key, alice = str(uuid.uuid4()), customer()
    refused = await client.post("/bookings", json=ROOM, headers=keyed(key))
    assert refused.status_code == 422
    fixed = await client.post("/bookings", json={**ROOM, "customer_id": alice}, headers=keyed(key))
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers


async def test_expired_keys_are_purged_and_recent_ones_kept(engine: AsyncEngine) -> None:
    scope = f"POST /bookings test-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    rows = [
        {"scope": scope, "key": name, "request_hash": "0" * 64, "created_at": now - age}
        for name, age in (("old", timedelta(hours=25)), ("recent", timedelta(hours=23)))
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(idempotency_keys), rows)

    await purge(engine, Expiry(idempotency_keys, "created_at", 24 / 24), batch_size=100)

    query = select(idempotency_keys.c.key).where(idempotency_keys.c.scope == scope)
    async with engine.connect() as conn:
        assert list(await conn.scalars(query)) == ["recent"]


async def test_the_openapi_document_shows_the_header_and_the_replay(client) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/bookings"]["post"]
    [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header" and not header.get("required", False)
    assert header["schema"]["anyOf"][0]["maxLength"] == 257  # 255, or quoted
    assert "IDEMPOTENCY_RETENTION_HOURS" in header["description"]
    assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
