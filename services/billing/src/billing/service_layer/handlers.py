"""One handler per event the billing service receives."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from billing.domain.model import Bill
from billing.service_layer.unit_of_work import BillingUnitOfWork
from sagakit.errors import NotFound
from sagakit.events import (
    ApprovedBooking,
    EventType,
    InsufficientFund,
    PaidBooking,
    PaymentExpired,
)
from sagakit.uow import Handler


async def approved_booking(event: ApprovedBooking, uow: BillingUnitOfWork) -> None:
    """APPROVED_BOOKING_EVENT: issue the booking's one bill (raises BILLED_BOOKING_EVENT)."""
    async with uow:
        # The booking id is the natural key: a second approval (a republish with a
        # new event id) finds the bill and issues nothing; of two racing ones, the
        # second waits for the first to commit, then adds nothing.
        bill = Bill.issue(event.booking_id, event.customer_id, event.item, event.amount)
        await uow.bills.add(bill)
        await uow.commit()  # also when nothing changed: the inbox row marks the event as seen


async def paid_booking(event: PaidBooking, uow: BillingUnitOfWork) -> None:
    """PAID_BOOKING_EVENT: pending -> paid."""
    await _transition(uow, event.booking_id, lambda bill: bill.mark_paid())


async def insufficient_fund(event: InsufficientFund, uow: BillingUnitOfWork) -> None:
    """INSUFFICIENT_FUND_EVENT: compensation, the bill ends failed."""
    reason = f"insufficient funds: {event.available_credit} available, {event.amount} due"
    await _transition(uow, event.booking_id, lambda bill: bill.fail(reason))


async def payment_expired(event: PaymentExpired, uow: BillingUnitOfWork) -> None:
    """PAYMENT_EXPIRED_EVENT: compensation, the bill ends cancelled."""
    await _transition(uow, event.booking_id, lambda bill: bill.cancel(event.reason))


async def _transition(
    uow: BillingUnitOfWork, booking_id: uuid.UUID, change: Callable[[Bill], bool]
) -> None:
    async with uow:
        bill = await uow.bills.get_by_booking(booking_id, for_update=True)
        if bill is None:
            raise NotFound(f"no bill for booking {booking_id}")
        if change(bill):
            await uow.bills.save(bill)
        await uow.commit()  # also when nothing changed: the inbox row marks the event as seen


EVENT_HANDLERS: dict[EventType, Handler] = {
    EventType.APPROVED_BOOKING_EVENT: approved_booking,
    EventType.PAID_BOOKING_EVENT: paid_booking,
    EventType.INSUFFICIENT_FUND_EVENT: insufficient_fund,
    EventType.PAYMENT_EXPIRED_EVENT: payment_expired,
}

BACKGROUND = frozenset(
    {
        EventType.PAID_BOOKING_EVENT,
        EventType.INSUFFICIENT_FUND_EVENT,
        EventType.PAYMENT_EXPIRED_EVENT,
    }
)
"""The bill's last step: the saga's end is the booking's, nobody waits for the bill's, so
these are read in batches (`BACKGROUND_LINGER_MS` apart)."""
