import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from manager.domain.commands import ApproveBooking, RejectBooking
from manager.domain.model import ApprovalStatus
from manager.service_layer import handlers, views
from manager.service_layer.unit_of_work import ApprovalFilter
from sagakit.errors import Conflict, NotFound
from sagakit.events import CreatedBooking, Envelope, EventType
from sagakit.uow import AlreadyProcessed

TIMEOUT = timedelta(days=1)


def created(customer_id: str = "alice") -> CreatedBooking:
    return CreatedBooking(
        booking_id=uuid.uuid4(), customer_id=customer_id, item="Room 101", amount=Decimal("120.00")
    )


def delivered(event: CreatedBooking) -> Envelope:
    return Envelope.wrap(event, "booking", causation_id=None)


async def receive(uow, event: CreatedBooking, *, auto_approve: bool) -> Envelope:
    envelope = delivered(event)
    handle = handlers.event_handlers(auto_approve, TIMEOUT)[EventType.CREATED_BOOKING_EVENT]
    await handle(event, uow.handling(envelope, "manager"))
    return envelope


async def given(uow, customer_id: str = "alice", *, approved: bool = False) -> uuid.UUID:
    """A booking the manager has received: approved at once, or left pending."""
    event = created(customer_id)
    await receive(uow, event, auto_approve=approved)
    return event.booking_id


async def test_auto_approval_approves_a_new_booking_at_once(uow) -> None:
    event = created()
    envelope = await receive(uow, event, auto_approve=True)
    assert uow.approvals.rows[event.booking_id].status is ApprovalStatus.APPROVED
    assert uow.event_types() == ["APPROVED_BOOKING_EVENT"]
    assert uow.outbox[0].causation_id == envelope.event_id
    assert uow.outbox[0].payload == {"customer_id": "alice", "item": "Room 101", "amount": "120.00"}


async def test_manual_mode_leaves_a_new_booking_pending_without_an_event(uow) -> None:
    event = created()
    await receive(uow, event, auto_approve=False)
    assert uow.approvals.rows[event.booking_id].status is ApprovalStatus.PENDING
    assert uow.outbox == []
    assert uow.commits == 1 and len(uow.inbox) == 1


async def test_the_same_created_event_twice_is_handled_once(uow) -> None:
    event = created()
    envelope = delivered(event)
    await handlers.created_booking(
        event, uow.handling(envelope, "manager"), auto_approve=True, timeout=TIMEOUT
    )
    with pytest.raises(AlreadyProcessed):
        await handlers.created_booking(
            event, uow.handling(envelope, "manager"), auto_approve=True, timeout=TIMEOUT
        )
    assert uow.event_types() == ["APPROVED_BOOKING_EVENT"]


async def test_a_second_created_event_for_a_known_booking_changes_nothing(uow) -> None:
    event = created()
    await receive(uow, event, auto_approve=False)
    await receive(uow, event, auto_approve=True)
    assert uow.approvals.rows[event.booking_id].status is ApprovalStatus.PENDING
    assert uow.outbox == []
    assert len(uow.inbox) == 2


async def test_approve_command_publishes_approved_event(uow) -> None:
    approval = await handlers.approve_booking(ApproveBooking(await given(uow)), uow)
    assert approval.status is ApprovalStatus.APPROVED
    assert uow.event_types() == ["APPROVED_BOOKING_EVENT"]
    assert uow.outbox[0].causation_id is None


async def test_reject_command_publishes_rejected_event_with_reason(uow) -> None:
    approval = await handlers.reject_booking(RejectBooking(await given(uow), "closed"), uow)
    assert approval.status is ApprovalStatus.REJECTED and approval.reason == "closed"
    assert uow.event_types() == ["REJECTED_BOOKING_EVENT"]
    assert uow.outbox[0].payload == {"customer_id": "alice", "reason": "closed"}


async def test_repeating_a_command_publishes_nothing_more(uow) -> None:
    booking_id = await given(uow)
    await handlers.approve_booking(ApproveBooking(booking_id), uow)
    approval = await handlers.approve_booking(ApproveBooking(booking_id), uow)
    assert approval.status is ApprovalStatus.APPROVED
    assert uow.event_types() == ["APPROVED_BOOKING_EVENT"]


async def test_rejecting_an_approved_booking_is_a_conflict(uow) -> None:
    booking_id = await given(uow, approved=True)
    with pytest.raises(Conflict, match="already approved"):
        await handlers.reject_booking(RejectBooking(booking_id, "too late"), uow)
    assert uow.approvals.rows[booking_id].status is ApprovalStatus.APPROVED
    assert uow.event_types() == ["APPROVED_BOOKING_EVENT"] and uow.commits == 1  # nothing more


async def test_deciding_on_an_unknown_booking_raises_not_found(uow) -> None:
    with pytest.raises(NotFound):
        await handlers.approve_booking(ApproveBooking(uuid.uuid4()), uow)
    with pytest.raises(NotFound):
        await handlers.reject_booking(RejectBooking(uuid.uuid4(), "x"), uow)
    assert uow.commits == 0


async def test_views_find_by_status_and_customer(uow) -> None:
    await given(uow, "alice")
    await given(uow, "bob", approved=True)
    found, total = await views.approvals(
        ApprovalFilter(status=ApprovalStatus.PENDING, customer_id="alice"), 10, 0, uow
    )
    assert total == 1 and found[0].customer_id == "alice"
    _, everyone = await views.approvals(ApprovalFilter(), 10, 0, uow)
    assert everyone == 2
    with pytest.raises(NotFound):
        await views.approval(uuid.uuid4(), uow)
