import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from booking.domain.commands import CreateBooking
from booking.domain.model import BookingStatus
from booking.service_layer import handlers, views
from booking.service_layer.unit_of_work import BookingFilter
from sagakit.errors import NotFound
from sagakit.events import (
    ApprovedBooking,
    BilledBooking,
    CreatedBooking,
    Envelope,
    EventType,
    InsufficientFund,
    InvoiceGenerated,
    PaidBooking,
    RejectedBooking,
    SagaEvent,
)
from sagakit.uow import AlreadyProcessed


def delivered(event: SagaEvent, producer: str = "manager") -> Envelope:
    return Envelope.wrap(event, producer, causation_id=None)


async def create(uow) -> uuid.UUID:
    command = CreateBooking(customer_id="alice", item="Room 101", amount=Decimal("120.00"))
    return (await handlers.create_booking(command, uow)).id


async def test_create_booking_commits_the_booking_and_its_event(uow) -> None:
    booking_id = await create(uow)
    assert uow.bookings.rows[booking_id].status is BookingStatus.PENDING
    assert uow.event_types() == ["CREATED_BOOKING_EVENT"]
    assert uow.outbox[0].booking_id == booking_id
    assert uow.outbox[0].causation_id is None


async def test_approval_then_invoice_reserves_the_booking(uow) -> None:
    booking_id = await create(uow)
    approved = ApprovedBooking(
        booking_id=booking_id, customer_id="alice", item="Room 101", amount=Decimal("120.00")
    )
    await handlers.approved_booking(approved, uow.handling(delivered(approved), "booking"))
    assert uow.bookings.rows[booking_id].status is BookingStatus.APPROVED
    invoiced = InvoiceGenerated(
        booking_id=booking_id,
        invoice_id=uuid.uuid4(),
        invoice_number="INV-1",
        total=Decimal("120.00"),
    )
    await handlers.invoice_generated(invoiced, uow.handling(delivered(invoiced), "booking"))
    assert uow.bookings.rows[booking_id].status is BookingStatus.RESERVED


async def test_insufficient_funds_fails_the_booking_with_a_reason(uow) -> None:
    booking_id = await create(uow)
    event = InsufficientFund(
        booking_id=booking_id,
        customer_id="alice",
        amount=Decimal("120.00"),
        available_credit=Decimal("10.00"),
    )
    await handlers.insufficient_fund(event, uow.handling(delivered(event, "payment"), "booking"))
    booking = uow.bookings.rows[booking_id]
    assert booking.status is BookingStatus.FAILED
    assert booking.reason is not None and "10.00" in booking.reason


async def test_rejection_ends_the_saga_rejected(uow) -> None:
    booking_id = await create(uow)
    event = RejectedBooking(booking_id=booking_id, customer_id="alice", reason="no rooms")
    await handlers.rejected_booking(event, uow.handling(delivered(event), "booking"))
    assert uow.bookings.rows[booking_id].status is BookingStatus.REJECTED
    assert uow.bookings.rows[booking_id].reason == "no rooms"


async def test_the_same_event_twice_is_handled_once(uow) -> None:
    booking_id = await create(uow)
    event = RejectedBooking(booking_id=booking_id, customer_id="alice", reason="no rooms")
    envelope = delivered(event)
    await handlers.rejected_booking(event, uow.handling(envelope, "booking"))
    with pytest.raises(AlreadyProcessed):
        await handlers.rejected_booking(event, uow.handling(envelope, "booking"))


async def test_event_for_unknown_booking_raises_not_found(uow) -> None:
    event = RejectedBooking(booking_id=uuid.uuid4(), customer_id="alice", reason="x")
    with pytest.raises(NotFound):
        await handlers.rejected_booking(event, uow.handling(delivered(event), "booking"))


async def test_views_find_by_status_and_customer(uow) -> None:
    await create(uow)
    found, total = await views.bookings(
        BookingFilter(status=BookingStatus.PENDING, customer_id="alice"), 10, 0, uow
    )
    assert total == 1 and found[0].customer_id == "alice"
    with pytest.raises(NotFound):
        await views.booking(uuid.uuid4(), uow)
    assert datetime.now(UTC) >= found[0].created_at


async def test_events_that_change_nothing_here_are_still_journaled(uow) -> None:
    booking_id = await create(uow)
    billed = BilledBooking(
        booking_id=booking_id,
        bill_id=uuid.uuid4(),
        customer_id="alice",
        item="Room 101",
        amount=Decimal("120.00"),
    )
    envelope = delivered(billed, "billing")
    await handlers.billed_booking(billed, uow.handling(envelope, "booking"))
    with pytest.raises(AlreadyProcessed):
        await handlers.billed_booking(billed, uow.handling(envelope, "booking"))
    [entry] = await uow.journal.entries(booking_id)
    assert (entry.event_id, entry.producer) == (envelope.event_id, "billing")
    assert uow.bookings.rows[booking_id].status is BookingStatus.PENDING


async def test_journal_only_handlers_do_not_need_the_booking(uow) -> None:
    event = PaidBooking(
        booking_id=uuid.uuid4(),
        customer_id="alice",
        item="Room 101",
        amount=Decimal("120.00"),
        paid_at=datetime.now(UTC),
    )
    await handlers.paid_booking(event, uow.handling(delivered(event, "payment"), "booking"))
    assert len(await uow.journal.entries(event.booking_id)) == 1


async def test_a_failed_handling_journals_nothing(uow) -> None:
    event = RejectedBooking(booking_id=uuid.uuid4(), customer_id="alice", reason="x")
    with pytest.raises(NotFound):
        await handlers.rejected_booking(event, uow.handling(delivered(event), "booking"))
    assert await uow.journal.entries(event.booking_id) == []


async def test_the_timeline_view_tells_the_saga_so_far(uow) -> None:
    booking_id = await create(uow)
    [created] = uow.outbox
    await handlers.created_booking(
        CreatedBooking.model_validate({**created.payload, "booking_id": booking_id}),
        uow.handling(created, "booking"),
    )
    saga = await views.saga_timeline(booking_id, uow)
    assert [step.entry.event_type for step in saga.steps] == ["CREATED_BOOKING_EVENT"]
    assert saga.expected_next is not None and saga.expected_next.producer == "manager"
    with pytest.raises(NotFound):
        await views.saga_timeline(uuid.uuid4(), uow)


def test_booking_listens_to_every_saga_event() -> None:
    assert set(handlers.EVENT_HANDLERS) == set(EventType)


def test_only_the_events_journaled_alone_are_read_in_the_background() -> None:
    # Read up to BACKGROUND_LINGER_MS late: never what changes the booking's status.
    assert {
        EventType.CREATED_BOOKING_EVENT,
        EventType.BILLED_BOOKING_EVENT,
        EventType.PAID_BOOKING_EVENT,
    } == handlers.BACKGROUND
