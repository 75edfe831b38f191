"""The running manager over real Redis streams: what it consumes and what it publishes."""

import uuid
from decimal import Decimal
from pathlib import Path

from redis.asyncio import Redis

from manager.config import Settings
from manager.entrypoints.app import create_app
from sagakit.events import CreatedBooking, Envelope, EventType
from sagakit.testing import (
    REDIS_URL,
    eventually,
    key_settings,
    read_envelopes,
    running_app,
    unique_prefix,
    xadd_envelope,
)


async def publish_created(redis: Redis, prefix: str, customer_id: str = "alice") -> Envelope:
    """Put a CREATED_BOOKING_EVENT on its stream the way the booking service's relay does."""
    event = CreatedBooking(
        booking_id=uuid.uuid4(), customer_id=customer_id, item="Room 7", amount=Decimal("42.00")
    )
    envelope = Envelope.wrap(event, "booking", causation_id=None)
    await add(redis, prefix, envelope)
    return envelope


async def add(redis: Redis, prefix: str, envelope: Envelope) -> None:
    await xadd_envelope(redis, f"{prefix}{EventType.CREATED_BOOKING_EVENT}", envelope)


async def published(
    redis: Redis, prefix: str, event_type: EventType, booking_id: uuid.UUID
) -> list[Envelope]:
    envelopes = await read_envelopes(redis, f"{prefix}{event_type}")
    return [e for e in envelopes if e.booking_id == booking_id]


async def status_of(client, booking_id: uuid.UUID) -> str | None:
    response = await client.get(f"/approvals/{booking_id}")
    return response.json()["status"] if response.status_code == 200 else None


async def test_manual_approval_publishes_approved_event(client, redis, settings, pending) -> None:
    booking_id = await pending(amount="7.5")
    assert (await client.post(f"/approvals/{booking_id}/approve")).status_code == 200
    prefix, approved = settings.event_prefix, EventType.APPROVED_BOOKING_EVENT

    async def arrived() -> bool:
        return bool(await published(redis, prefix, approved, booking_id))

    assert await eventually(arrived)
    [envelope] = await published(redis, prefix, approved, booking_id)
    assert envelope.producer == "manager"
    assert envelope.payload == {"customer_id": "alice", "item": "Room 7", "amount": "7.50"}


async def test_manual_rejection_publishes_rejected_event(client, redis, settings, pending) -> None:
    booking_id = await pending()
    await client.post(f"/approvals/{booking_id}/reject", json={"reason": "full"})
    prefix, rejected = settings.event_prefix, EventType.REJECTED_BOOKING_EVENT

    async def arrived() -> bool:
        return bool(await published(redis, prefix, rejected, booking_id))

    assert await eventually(arrived)
    [envelope] = await published(redis, prefix, rejected, booking_id)
    assert envelope.payload == {"customer_id": "alice", "reason": "full"}
    assert await published(redis, prefix, EventType.APPROVED_BOOKING_EVENT, booking_id) == []


async def test_created_event_waits_for_a_person_in_manual_mode(client, redis, settings) -> None:
    created = await publish_created(redis, settings.event_prefix)

    async def stored() -> bool:
        return await status_of(client, created.booking_id) == "pending"

    assert await eventually(stored)
    approve = await client.post(f"/approvals/{created.booking_id}/approve")
    assert approve.json()["status"] == "approved"


async def test_created_event_is_approved_and_published_with_auto_approval(
    database_url: str, redis: Redis, dev_key_file: Path, bearer
) -> None:
    settings = Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        event_prefix=unique_prefix(),
        auth_mode="dev",
        auth_dev_key_file=str(dev_key_file),
        **key_settings("manager"),
    )
    assert settings.auto_approve
    prefix, approved = settings.event_prefix, EventType.APPROVED_BOOKING_EVENT
    async with running_app(create_app(settings), bearer("operator", "manager")) as client:
        created = await publish_created(redis, prefix, "carol")
        await add(redis, prefix, created)  # a redelivery: the inbox must swallow it

        async def arrived() -> bool:
            return bool(await published(redis, prefix, approved, created.booking_id))

        assert await eventually(arrived)
        assert await status_of(client, created.booking_id) == "approved"
        assert (await client.post(f"/approvals/{created.booking_id}/reject")).status_code == 409
    [envelope] = await published(redis, prefix, approved, created.booking_id)
    assert envelope.causation_id == created.event_id
    assert envelope.payload == {"customer_id": "carol", "item": "Room 7", "amount": "42.00"}
