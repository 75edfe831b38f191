"""One handler per command and per event the booking service receives."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from booking.domain.commands import CreateBooking
from booking.domain.model import Booking
from booking.service_layer.unit_of_work import BookingUnitOfWork
from sagakit.errors import NotFound
from sagakit.events import (
    ApprovedBooking,
    BilledBooking,
    CreatedBooking,
    EventType,
    InsufficientFund,
    InvoiceGenerated,
    PaidBooking,
    PaymentExpired,
    RejectedBooking,
)
from sagakit.uow import Handler


async def create_booking(cmd: CreateBooking, uow: BookingUnitOfWork) -> Booking:
    """Store a pending booking and raise CREATED_BOOKING_EVENT in the same transaction."""
    async with uow:
        booking = Booking.create(cmd.customer_id, cmd.item, cmd.amount, cmd.booking_id)
        await uow.bookings.add(booking)
        await uow.commit()
    return booking


async def approved_booking(event: ApprovedBooking, uow: BookingUnitOfWork) -> None:
    """APPROVED_BOOKING_EVENT: pending -> approved."""
    await _transition(uow, event.booking_id, lambda booking: booking.approve())


async def rejected_booking(event: RejectedBooking, uow: BookingUnitOfWork) -> None:
    """REJECTED_BOOKING_EVENT: the saga ends rejected."""
    await _transition(uow, event.booking_id, lambda booking: booking.reject(event.reason))


async def invoice_generated(event: InvoiceGenerated, uow: BookingUnitOfWork) -> None:
    """INVOICE_GENERATED_EVENT: the saga ends reserved."""
    await _transition(uow, event.booking_id, lambda booking: booking.reserve())


async def insufficient_fund(event: InsufficientFund, uow: BookingUnitOfWork) -> None:
    """INSUFFICIENT_FUND_EVENT: compensation, the saga ends failed."""
    reason = f"insufficient funds: {event.available_credit} available, {event.amount} due"
    await _transition(uow, event.booking_id, lambda booking: booking.fail(reason))


async def payment_expired(event: PaymentExpired, uow: BookingUnitOfWork) -> None:
    """PAYMENT_EXPIRED_EVENT: compensation, the saga ends expired (`payment timed out`)."""
    await _transition(uow, event.booking_id, lambda booking: booking.expire(event.reason))


async def created_booking(event: CreatedBooking, uow: BookingUnitOfWork) -> None:
    """CREATED_BOOKING_EVENT (our own, as published): journaled for the timeline."""
    await _journal_only(uow)


async def billed_booking(event: BilledBooking, uow: BookingUnitOfWork) -> None:
    """BILLED_BOOKING_EVENT: journaled for the timeline; the booking does not change."""
    await _journal_only(uow)


async def paid_booking(event: PaidBooking, uow: BookingUnitOfWork) -> None:
    """PAID_BOOKING_EVENT: journaled for the timeline; the booking waits for the invoice."""
    await _journal_only(uow)


async def _journal_only(uow: BookingUnitOfWork) -> None:
    # The inbox row and the journal entry, booking or not; nothing else changes.
    await uow.record_only()


async def _transition(
    uow: BookingUnitOfWork, booking_id: uuid.UUID, change: Callable[[Booking], bool]
) -> None:
    async with uow:
        booking = await uow.bookings.get(booking_id, for_update=True)
        if booking is None:
            raise NotFound(f"booking {booking_id} not found")
        if change(booking):
            await uow.bookings.save(booking)
        await uow.commit()  # also when nothing changed: the inbox row marks the event as seen


EVENT_HANDLERS: dict[EventType, Handler] = {
    EventType.CREATED_BOOKING_EVENT: created_booking,
    EventType.APPROVED_BOOKING_EVENT: approved_booking,
    EventType.REJECTED_BOOKING_EVENT: rejected_booking,
    EventType.BILLED_BOOKING_EVENT: billed_booking,
    EventType.PAID_BOOKING_EVENT: paid_booking,
    EventType.INSUFFICIENT_FUND_EVENT: insufficient_fund,
    EventType.INVOICE_GENERATED_EVENT: invoice_generated,
    EventType.PAYMENT_EXPIRED_EVENT: payment_expired,
}
"""Every saga event: those that change nothing here are still journaled for the timeline."""

BACKGROUND = frozenset(
    {
        EventType.CREATED_BOOKING_EVENT,
        EventType.BILLED_BOOKING_EVENT,
        EventType.PAID_BOOKING_EVENT,
    }
)
"""The events only journaled here: no step waits for them, so they are read in batches
(`BACKGROUND_LINGER_MS` apart) and reach the timeline up to that much later."""
