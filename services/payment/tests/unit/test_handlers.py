import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from payment.domain.commands import SetCredit, SubmitPayment
from payment.domain.model import PaymentStatus
from payment.service_layer import handlers, views
from payment.service_layer.handlers import PaymentNotOpen
from payment.service_layer.unit_of_work import PaymentFilter
from sagakit.errors import Conflict, NotFound
from sagakit.events import BilledBooking, Envelope
from sagakit.uow import AlreadyProcessed

TIMEOUT = timedelta(minutes=15)


def bill(amount: str = "120.00", customer_id: str = "alice") -> BilledBooking:
    return BilledBooking(
        booking_id=uuid.uuid4(),
        bill_id=uuid.uuid4(),
        customer_id=customer_id,
        item="Room 101",
        amount=Decimal(amount),
    )


async def billed(uow, event: BilledBooking) -> Envelope:
    envelope = Envelope.wrap(event, "billing", causation_id=None)
    await handlers.billed_booking(event, uow.handling(envelope, "payment"), timeout=TIMEOUT)
    return envelope


async def test_a_bill_opens_a_payment_request_without_publishing(uow) -> None:
    event = bill()
    await billed(uow, event)
    payment = uow.payments.rows[event.booking_id]
    assert payment.status is PaymentStatus.AWAITING_PAYMENT
    assert payment.bill_id == event.bill_id and payment.amount_due == Decimal("120.00")
    assert uow.outbox == [] and uow.commits == 1


async def test_the_same_bill_envelope_twice_is_handled_once(uow) -> None:
    event = bill()
    envelope = Envelope.wrap(event, "billing", causation_id=None)
    await handlers.billed_booking(event, uow.handling(envelope, "payment"), timeout=TIMEOUT)
    with pytest.raises(AlreadyProcessed):
        await handlers.billed_booking(event, uow.handling(envelope, "payment"), timeout=TIMEOUT)
    assert uow.commits == 1


async def test_a_second_bill_for_the_booking_keeps_the_first_request(uow) -> None:
    first = bill()
    await billed(uow, first)
    second = first.model_copy(update={"bill_id": uuid.uuid4()})
    await billed(uow, second)
    assert uow.payments.rows[first.booking_id].bill_id == first.bill_id
    assert uow.commits == 2  # the second one is still committed: its inbox row


async def test_set_credit_creates_the_customer_then_replaces_the_credit(uow) -> None:
    await handlers.set_credit(SetCredit("alice", Decimal("50.00")), uow)
    customer = await handlers.set_credit(SetCredit("alice", Decimal("20.00")), uow)
    assert customer.credit == Decimal("20.00")
    assert uow.customers.rows["alice"].credit == Decimal("20.00")


async def test_submitting_pays_the_bill_and_publishes_paid_booking(uow) -> None:
    event = bill()
    await billed(uow, event)
    await handlers.set_credit(SetCredit("alice", Decimal("200.00")), uow)
    payment = await handlers.submit_payment(SubmitPayment(event.booking_id), uow)
    assert payment.status is PaymentStatus.PAID
    assert uow.customers.rows["alice"].credit == Decimal("80.00")
    assert uow.event_types() == ["PAID_BOOKING_EVENT"]
    assert uow.outbox[0].booking_id == event.booking_id


async def test_only_the_booking_s_own_customer_may_pay_it(uow) -> None:
    event = bill()
    await billed(uow, event)
    for customer in ("alice", "bob"):
        await handlers.set_credit(SetCredit(customer, Decimal("200.00")), uow)
    with pytest.raises(NotFound, match=f"no payment for booking {event.booking_id}"):
        await handlers.submit_payment(SubmitPayment(event.booking_id, payer="bob"), uow)
    assert uow.event_types() == []
    assert {c.customer_id: c.credit for c in uow.customers.rows.values()} == {
        "alice": Decimal("200.00"),
        "bob": Decimal("200.00"),
    }
    paid = await handlers.submit_payment(SubmitPayment(event.booking_id, payer="alice"), uow)
    assert paid.status is PaymentStatus.PAID


async def test_a_customer_reading_another_s_payment_finds_nothing(uow) -> None:
    event = bill()
    await billed(uow, event)
    assert (await views.payment(event.booking_id, uow, owner="alice")).customer_id == "alice"
    with pytest.raises(NotFound):
        await views.payment(event.booking_id, uow, owner="bob")


async def test_submitting_twice_charges_once_and_publishes_once(uow) -> None:
    event = bill()
    await billed(uow, event)
    await handlers.set_credit(SetCredit("alice", Decimal("200.00")), uow)
    first = await handlers.submit_payment(SubmitPayment(event.booking_id), uow)
    again = await handlers.submit_payment(SubmitPayment(event.booking_id), uow)
    assert again.status is first.status is PaymentStatus.PAID
    assert uow.customers.rows["alice"].credit == Decimal("80.00")
    assert uow.event_types() == ["PAID_BOOKING_EVENT"]


async def test_short_credit_publishes_insufficient_fund_with_the_available_credit(uow) -> None:
    event = bill()
    await billed(uow, event)
    await handlers.set_credit(SetCredit("alice", Decimal("10.00")), uow)
    payment = await handlers.submit_payment(SubmitPayment(event.booking_id), uow)
    assert payment.status is PaymentStatus.INSUFFICIENT_FUNDS
    assert uow.customers.rows["alice"].credit == Decimal("10.00")
    assert uow.event_types() == ["INSUFFICIENT_FUND_EVENT"]
    assert uow.outbox[0].payload["available_credit"] == "10.00"


async def test_an_unknown_customer_cannot_pay(uow) -> None:
    event = bill(customer_id="nobody")
    await billed(uow, event)
    payment = await handlers.submit_payment(SubmitPayment(event.booking_id), uow)
    assert payment.status is PaymentStatus.INSUFFICIENT_FUNDS
    assert uow.outbox[0].payload["available_credit"] == "0.00"
    assert "nobody" not in uow.customers.rows


async def test_submitting_before_the_bill_is_a_conflict_saying_to_retry(uow) -> None:
    booking_id = uuid.uuid4()
    with pytest.raises(PaymentNotOpen, match=f"no bill for booking {booking_id} yet") as caught:
        await handlers.submit_payment(SubmitPayment(booking_id), uow)
    assert isinstance(caught.value, Conflict)
    assert "retry shortly" in str(caught.value)
    assert uow.outbox == [] and uow.commits == 0


async def test_views_find_by_status_and_customer(uow) -> None:
    event = bill()
    await billed(uow, event)
    await billed(uow, bill(customer_id="bob"))
    where = PaymentFilter(status=PaymentStatus.AWAITING_PAYMENT, customer_id="alice")
    found, total = await views.payments(where, 10, 0, uow)
    assert total == 1 and found[0].booking_id == event.booking_id
    assert (await views.payment(event.booking_id, uow)).customer_id == "alice"
    with pytest.raises(NotFound):
        await views.payment(uuid.uuid4(), uow)
    with pytest.raises(NotFound):
        await views.customer("alice", uow)
