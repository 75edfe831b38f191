import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoice.service_layer import handlers, views
from invoice.service_layer.unit_of_work import InvoiceFilter
from sagakit.errors import NotFound
from sagakit.events import Envelope, EventType, PaidBooking
from sagakit.uow import AlreadyProcessed


def paid(booking_id: uuid.UUID | None = None, customer_id: str = "alice") -> PaidBooking:
    return PaidBooking(
        booking_id=booking_id or uuid.uuid4(),
        customer_id=customer_id,
        item="Room 101",
        amount=Decimal("120.00"),
        paid_at=datetime.now(UTC),
    )


def delivered(event: PaidBooking) -> Envelope:
    return Envelope.wrap(event, "payment", causation_id=None)


async def test_paid_booking_generates_an_invoice_and_its_event(uow) -> None:
    event = paid()
    envelope = delivered(event)
    await handlers.paid_booking(event, uow.handling(envelope, "invoice"))
    invoice = uow.invoices.rows[event.booking_id]
    year = datetime.now(UTC).year
    assert invoice.number == f"INV-{year}-000001"
    assert invoice.total == Decimal("120.00") and invoice.customer_id == "alice"
    assert uow.event_types() == ["INVOICE_GENERATED_EVENT"]
    assert uow.outbox[0].causation_id == envelope.event_id
    assert uow.outbox[0].payload["invoice_number"] == invoice.number


async def test_second_paid_event_for_the_same_booking_generates_no_second_invoice(uow) -> None:
    event = paid()
    first, second = delivered(event), delivered(event)
    assert first.event_id != second.event_id
    await handlers.paid_booking(event, uow.handling(first, "invoice"))
    await handlers.paid_booking(event, uow.handling(second, "invoice"))
    assert len(uow.invoices.rows) == 1
    assert uow.event_types() == ["INVOICE_GENERATED_EVENT"]
    assert uow.invoices.last_number == 1
    assert uow.inbox == {("invoice", str(first.event_id)), ("invoice", str(second.event_id))}


async def test_the_same_envelope_twice_is_handled_once(uow) -> None:
    event = paid()
    envelope = delivered(event)
    await handlers.paid_booking(event, uow.handling(envelope, "invoice"))
    with pytest.raises(AlreadyProcessed):
        await handlers.paid_booking(event, uow.handling(envelope, "invoice"))
    assert uow.commits == 1


async def test_each_booking_takes_the_next_number(uow) -> None:
    numbers = []
    for _ in range(3):
        event = paid()
        await handlers.paid_booking(event, uow.handling(delivered(event), "invoice"))
        numbers.append(uow.invoices.rows[event.booking_id].number)
    assert [number[-6:] for number in numbers] == ["000001", "000002", "000003"]


async def test_paid_booking_is_the_only_event_handled() -> None:
    assert list(handlers.EVENT_HANDLERS) == [EventType.PAID_BOOKING_EVENT]


async def test_views_find_by_customer_and_raise_not_found(uow) -> None:
    for customer in ("alice", "alice", "bob"):
        event = paid(customer_id=customer)
        await handlers.paid_booking(event, uow.handling(delivered(event), "invoice"))
    found, total = await views.invoices(InvoiceFilter(customer_id="alice"), 1, 0, uow)
    assert total == 2 and len(found) == 1 and found[0].customer_id == "alice"
    assert (await views.invoice(found[0].booking_id, uow)).id == found[0].id
    with pytest.raises(NotFound):
        await views.invoice(uuid.uuid4(), uow)
