"""Approval deadlines in manual mode: swept once, decided once, through the running service."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from manager.adapters.orm import approvals, messaging
from manager.config import Settings
from manager.domain.commands import ApproveBooking, RejectBooking
from manager.domain.model import ApprovalStatus
from manager.entrypoints.app import create_app
from manager.service_layer import handlers
from sagakit.deadlines import Deadline, sweep_once
from sagakit.errors import Conflict
from sagakit.events import Envelope, EventType
from sagakit.testing import eventually, running_app

from .test_events import publish_created, published

TIMEOUT = Deadline("approval_timed_out", handlers.reject_overdue_approvals)


async def due_at(engine: AsyncEngine, booking_id: uuid.UUID, when: datetime) -> None:
    """Move an approval's deadline (as if the time had passed, or the service had been down)."""
    statement = update(approvals).where(approvals.c.booking_id == booking_id)
    async with engine.begin() as conn:
        await conn.execute(statement.values(expires_at=when))


async def outbox(engine: AsyncEngine, booking_id: uuid.UUID) -> list[Envelope]:
    query = select(messaging.outbox.c.body).where(messaging.outbox.c.booking_id == booking_id)
    async with engine.connect() as conn:
        return [Envelope.model_validate_json(b) for b in (await conn.scalars(query)).all()]


async def test_a_pending_approval_has_a_deadline(client, pending) -> None:
    booking_id = await pending()
    body = (await client.get(f"/approvals/{booking_id}")).json()
    left = datetime.fromisoformat(body["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=23) < left <= timedelta(days=1)


async def test_two_sweepers_time_out_each_overdue_approval_once(engine, new_uow, pending) -> None:
    bookings = [await pending() for _ in range(12)]
    for booking_id in bookings:
        await due_at(engine, booking_id, datetime.now(UTC) - timedelta(hours=2))
    fired = await asyncio.gather(
        sweep_once(TIMEOUT, new_uow, 3, "manager"), sweep_once(TIMEOUT, new_uow, 3, "manager")
    )
    assert sum(fired) >= len(bookings)
    for booking_id in bookings:
        [envelope] = await outbox(engine, booking_id)
        assert envelope.event_type == EventType.REJECTED_BOOKING_EVENT
        assert envelope.payload["reason"] == "approval timed out"
        async with new_uow() as uow:
            approval = await uow.approvals.get(booking_id)
        assert approval is not None and approval.status is ApprovalStatus.REJECTED


async def test_a_decision_after_the_deadline_is_refused(engine, new_uow, pending) -> None:
    booking_id = await pending()
    await due_at(engine, booking_id, datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(Conflict, match="timed out"):
        await handlers.approve_booking(ApproveBooking(booking_id), new_uow())
    # The decision timed it out under its lock (the sweep had not come by): committed.
    with pytest.raises(Conflict, match="timed out"):
        await handlers.reject_booking(RejectBooking(booking_id, "full"), new_uow())
    await sweep_once(TIMEOUT, new_uow, 100, "manager")
    [envelope] = await outbox(engine, booking_id)
    assert envelope.payload["reason"] == "approval timed out"


async def test_an_undecided_booking_is_rejected_when_its_approval_times_out(
    redis: Redis, settings: Settings, bearer
) -> None:
    short = settings.model_copy(
        update={
            "auto_approve": False,
            "approval_timeout_seconds": 1.0,
            "deadline_sweep_seconds": 0.2,
        }
    )
    prefix, rejected = short.event_prefix, EventType.REJECTED_BOOKING_EVENT
    async with running_app(create_app(short), bearer("operator", "manager")) as client:
        created = await publish_created(redis, prefix, "dave")

        async def timed_out() -> bool:
            return bool(await published(redis, prefix, rejected, created.booking_id))

        assert await eventually(timed_out)
        body = (await client.get(f"/approvals/{created.booking_id}")).json()
        assert body["status"] == "rejected" and body["reason"] == "approval timed out"
        late = await client.post(f"/approvals/{created.booking_id}/approve")
        assert late.status_code == 409 and "timed out" in late.json()["detail"]
    [envelope] = await published(redis, prefix, rejected, created.booking_id)
    assert envelope.payload == {"customer_id": "dave", "reason": "approval timed out"}
    assert (
        await published(redis, prefix, EventType.APPROVED_BOOKING_EVENT, created.booking_id) == []
    )
