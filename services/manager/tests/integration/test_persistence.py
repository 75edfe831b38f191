import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from manager.adapters.orm import approvals, messaging, metadata
from manager.domain.commands import ApproveBooking, RejectBooking
from manager.domain.model import Approval, ApprovalStatus
from manager.service_layer import handlers
from sagakit.errors import Conflict
from sagakit.events import CreatedBooking, Envelope
from sagakit.testing import DATABASE_PREFIX, check_migrations, count_rows
from sagakit.uow import AlreadyProcessed

TIMEOUT = timedelta(days=1)


async def outbox_envelopes(engine: AsyncEngine, booking_id: uuid.UUID) -> list[Envelope]:
    outbox = messaging.outbox
    query = select(outbox.c.body).where(outbox.c.booking_id == booking_id).order_by(outbox.c.id)
    async with engine.connect() as conn:
        return [Envelope.model_validate_json(body) for body in (await conn.scalars(query))]


def created(customer_id: str = "alice") -> CreatedBooking:
    return CreatedBooking(
        booking_id=uuid.uuid4(), customer_id=customer_id, item="Room", amount=Decimal("99.90")
    )


async def test_migrations_upgrade_downgrade_and_match_the_tables_in_code() -> None:
    await check_migrations("manager:migrations", metadata, f"{DATABASE_PREFIX}manager_migrations")


async def test_auto_approval_and_its_event_commit_together(engine, new_uow) -> None:
    event = created()
    envelope = Envelope.wrap(event, "booking", causation_id=None)
    await handlers.created_booking(
        event, new_uow().handling(envelope, "manager"), auto_approve=True, timeout=TIMEOUT
    )
    async with new_uow() as uow:
        stored = await uow.approvals.get(event.booking_id)
    assert stored is not None and stored.status is ApprovalStatus.APPROVED
    assert stored.amount == Decimal("99.90") and stored.decided_at is not None
    [approved] = await outbox_envelopes(engine, event.booking_id)
    assert approved.event_type == "APPROVED_BOOKING_EVENT"
    assert approved.causation_id == envelope.event_id
    assert approved.payload == {"customer_id": "alice", "item": "Room", "amount": "99.90"}


async def test_manual_decision_stores_status_reason_and_event(engine, new_uow) -> None:
    event = created()
    await handlers.created_booking(event, new_uow(), auto_approve=False, timeout=TIMEOUT)
    assert await outbox_envelopes(engine, event.booking_id) == []
    command = RejectBooking(event.booking_id, "closed for repairs")
    rejected = await handlers.reject_booking(command, new_uow())
    async with new_uow() as uow:
        stored = await uow.approvals.get(event.booking_id)
    assert stored == rejected and stored.reason == "closed for repairs"
    [envelope] = await outbox_envelopes(engine, event.booking_id)
    assert envelope.event_type == "REJECTED_BOOKING_EVENT"
    with pytest.raises(Conflict):
        await handlers.approve_booking(ApproveBooking(event.booking_id), new_uow())
    assert len(await outbox_envelopes(engine, event.booking_id)) == 1


async def test_a_failed_transaction_leaves_neither_state_nor_event(engine, new_uow) -> None:
    approval = Approval.request(uuid.uuid4(), "alice", "Room", Decimal("10.00"))
    approval.approve()
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            await uow.approvals.add(approval)
            raise RuntimeError("crash before commit")
    assert await count_rows(engine, approvals, booking_id=approval.booking_id) == 0
    assert await count_rows(engine, messaging.outbox, booking_id=approval.booking_id) == 0


async def test_a_created_event_delivered_twice_is_recorded_once(engine, new_uow) -> None:
    event = created("bob")
    envelope = Envelope.wrap(event, "booking", causation_id=None)
    await handlers.created_booking(
        event, new_uow().handling(envelope, "manager"), auto_approve=True, timeout=TIMEOUT
    )
    with pytest.raises(AlreadyProcessed):
        await handlers.created_booking(
            event, new_uow().handling(envelope, "manager"), auto_approve=True, timeout=TIMEOUT
        )
    assert await count_rows(engine, messaging.inbox, event_id=envelope.event_id) == 1
    assert await count_rows(engine, approvals, booking_id=event.booking_id) == 1
    assert await count_rows(engine, messaging.outbox, booking_id=event.booking_id) == 1


async def test_a_second_created_event_for_the_same_booking_is_only_marked_seen(
    engine, new_uow
) -> None:
    event = created()
    await handlers.created_booking(event, new_uow(), auto_approve=False, timeout=TIMEOUT)
    again = Envelope.wrap(event, "booking", causation_id=None)
    await handlers.created_booking(
        event, new_uow().handling(again, "manager"), auto_approve=True, timeout=TIMEOUT
    )
    assert await count_rows(engine, messaging.inbox, event_id=again.event_id) == 1
    assert await count_rows(engine, messaging.outbox, booking_id=event.booking_id) == 0
    async with new_uow() as uow:
        stored = await uow.approvals.get(event.booking_id)
    assert stored is not None and stored.status is ApprovalStatus.PENDING
