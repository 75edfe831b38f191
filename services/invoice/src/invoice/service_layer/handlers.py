"""One handler per event the invoice service receives."""

from __future__ import annotations

from datetime import UTC, datetime

from invoice.domain.model import Invoice, invoice_number
from invoice.service_layer.unit_of_work import InvoiceUnitOfWork
from sagakit.events import EventType, PaidBooking
from sagakit.uow import Handler


async def paid_booking(event: PaidBooking, uow: InvoiceUnitOfWork) -> None:
    """PAID_BOOKING_EVENT: generate the booking's invoice unless it already has one."""
    async with uow:
        # The booking id is the natural key: a second PAID event for the same
        # booking (a new event id, so the inbox lets it through) adds nothing.
        # Two racing ones collide on the unique booking_id; the loser is retried
        # and then finds the invoice.
        if await uow.invoices.get(event.booking_id) is None:
            seq = await uow.invoices.next_number()
            invoice = Invoice.generate(
                booking_id=event.booking_id,
                number=invoice_number(seq, datetime.now(UTC).year),
                customer_id=event.customer_id,
                item=event.item,
                amount=event.amount,
                paid_at=event.paid_at,
            )
            await uow.invoices.add(invoice)
        await uow.commit()  # also when nothing changed: the inbox row marks the event as seen


EVENT_HANDLERS: dict[EventType, Handler] = {
    EventType.PAID_BOOKING_EVENT: paid_booking,
}
