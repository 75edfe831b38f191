"""One handler per command and per event the payment service receives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

from payment.domain.commands import SetCredit, SubmitPayment
from payment.domain.model import Customer, Payment, PaymentStatus
from payment.service_layer.unit_of_work import PaymentUnitOfWork
from sagakit.errors import Conflict, NotFound
from sagakit.events import BilledBooking, EventType
from sagakit.uow import Handler


class PaymentNotOpen(Conflict):
    """A payment was submitted before its bill arrived (HTTP 409)."""

    def __init__(self, booking_id: uuid.UUID) -> None:
        super().__init__(
            f"no bill for booking {booking_id} yet: the payment request opens when "
            "BILLED_BOOKING_EVENT arrives; retry shortly"
        )


class PaymentExpiredConflict(Conflict):
    """A payment was submitted after its deadline (HTTP 409); nothing was charged."""

    def __init__(self, payment: Payment) -> None:
        super().__init__(
            f"the payment of booking {payment.booking_id} expired at "
            f"{payment.expires_at.isoformat() if payment.expires_at else 'its deadline'} "
            "unpaid: nothing was charged and the booking is expired"
        )


async def billed_booking(
    event: BilledBooking, uow: PaymentUnitOfWork, *, timeout: timedelta
) -> None:
    """BILLED_BOOKING_EVENT: open the booking's payment request, due within `timeout`."""
    async with uow:
        payment = Payment.open(
            event.booking_id, event.bill_id, event.customer_id, event.item, event.amount, timeout
        )
        # The booking id is the natural key: a second BILLED event for the booking (a
        # republish with a new event id, which the inbox lets through) adds nothing.
        await uow.payments.add(payment)
        await uow.commit()  # also when nothing changed: the inbox row marks the event as seen


async def set_credit(cmd: SetCredit, uow: PaymentUnitOfWork) -> Customer:
    """Make a customer's available credit exactly the given amount, creating the customer."""
    # The new credit replaces the old one whatever it was: no need to read it first.
    # `save` is an upsert, so two first-time calls for one customer both succeed.
    customer = Customer.new(cmd.customer_id)
    customer.set_credit(cmd.amount)
    async with uow.single():  # one upsert, no event: no transaction of its own
        await uow.customers.save(customer)
        await uow.commit()
    return customer


async def submit_payment(cmd: SubmitPayment, uow: PaymentUnitOfWork) -> Payment:
    """Settle a booking's payment once; PAID_BOOKING_EVENT or INSUFFICIENT_FUND_EVENT.

    Past its deadline it is not charged: it expires here, under the same row lock as the
    sweep's (PAYMENT_EXPIRED_EVENT), and the submission is refused with 409.
    """
    async with uow:
        # Locks are always taken payment row first, then customer row: a duplicate
        # submission waits on the payment row and then sees it settled; two bookings
        # of one customer wait on the customer row; the fixed order cannot deadlock.
        payment = await uow.payments.get(cmd.booking_id, for_update=True)
        if payment is None:
            raise PaymentNotOpen(cmd.booking_id)
        if cmd.payer is not None and cmd.payer != payment.customer_id:
            raise NotFound(f"no payment for booking {cmd.booking_id}")
        now = datetime.now(UTC)
        if payment.expire(now):  # the sweep has not come by yet: expire it now
            await uow.payments.save(payment)
            await uow.commit()
        if payment.status is PaymentStatus.EXPIRED:
            raise PaymentExpiredConflict(payment)
        customer = await uow.customers.get(payment.customer_id, for_update=True)
        if payment.settle(customer, now):
            await uow.payments.save(payment)
            if customer is not None:
                await uow.customers.save(customer)
        await uow.commit()
    return payment


async def expire_due_payments(uow: PaymentUnitOfWork, now: datetime, limit: int) -> int:
    """The deadline sweep: up to `limit` unpaid payments past their deadline expire."""
    async with uow:
        due = await uow.payments.due(now, limit)
        for payment in due:
            if payment.expire(now):
                await uow.payments.save(payment)
        await uow.commit()
    return len(due)


def event_handlers(timeout: timedelta) -> dict[EventType, Handler]:
    """The events the payment service subscribes to, with the payment deadline bound in."""
    return {
        EventType.BILLED_BOOKING_EVENT: partial(billed_booking, timeout=timeout),
    }
