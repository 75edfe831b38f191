import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.bootstrap import SPEC
from billing.domain.model import Bill, BillStatus
from billing.service_layer import handlers, views
from billing.service_layer.unit_of_work import BillFilter
from sagakit.errors import NotFound
from sagakit.events import (
    ApprovedBooking,
    Envelope,
    EventType,
    InsufficientFund,
    PaidBooking,
    PaymentExpired,
    SagaEvent,
)
from sagakit.uow import AlreadyProcessed


def delivered(event: SagaEvent, producer: str = "manager") -> Envelope:
    return Envelope.wrap(event, producer, causation_id=None)


def approval(booking_id: uuid.UUID) -> ApprovedBooking:
    return ApprovedBooking(
        booking_id=booking_id, customer_id="alice", item="Room 101", amount=Decimal("120.00")
    )


def payment(booking_id: uuid.UUID) -> PaidBooking:
    return PaidBooking(
        booking_id=booking_id,
        customer_id="alice",
        item="Room 101",
        amount=Decimal("120.00"),
        paid_at=datetime.now(UTC),
    )


def shortfall(booking_id: uuid.UUID) -> InsufficientFund:
    return InsufficientFund(
        booking_id=booking_id,
        customer_id="alice",
        amount=Decimal("120.00"),
        available_credit=Decimal("10.00"),
    )


async def issue(uow) -> Bill:
    event = approval(uuid.uuid4())
    await handlers.approved_booking(event, uow.handling(delivered(event), "billing"))
    [bill] = [b for b in uow.bills.rows.values() if b.booking_id == event.booking_id]
    return bill


async def test_approval_issues_a_pending_bill_and_its_billed_event(uow) -> None:
    event = approval(uuid.uuid4())
    envelope = delivered(event)
    await handlers.approved_booking(event, uow.handling(envelope, "billing"))
    [bill] = uow.bills.rows.values()
    assert bill.booking_id == event.booking_id and bill.status is BillStatus.PENDING
    assert bill.amount == Decimal("120.00")
    assert uow.event_types() == ["BILLED_BOOKING_EVENT"]
    assert uow.outbox[0].causation_id == envelope.event_id
    assert uow.outbox[0].payload["bill_id"] == str(bill.id)


async def test_a_second_approval_of_the_same_booking_issues_no_second_bill(uow) -> None:
    first = await issue(uow)
    again = approval(first.booking_id)
    envelope = delivered(again)
    await handlers.approved_booking(again, uow.handling(envelope, "billing"))
    assert list(uow.bills.rows) == [first.id]
    assert uow.event_types() == ["BILLED_BOOKING_EVENT"]
    assert ("billing", str(envelope.event_id)) in uow.inbox


async def test_payment_marks_the_bill_paid(uow) -> None:
    bill = await issue(uow)
    event = payment(bill.booking_id)
    await handlers.paid_booking(event, uow.handling(delivered(event, "payment"), "billing"))
    assert uow.bills.rows[bill.id].status is BillStatus.PAID
    assert uow.event_types() == ["BILLED_BOOKING_EVENT"]


async def test_insufficient_funds_fail_the_bill_with_credit_and_amount(uow) -> None:
    bill = await issue(uow)
    event = shortfall(bill.booking_id)
    await handlers.insufficient_fund(event, uow.handling(delivered(event, "payment"), "billing"))
    failed = uow.bills.rows[bill.id]
    assert failed.status is BillStatus.FAILED
    assert failed.reason is not None and "10.00" in failed.reason and "120.00" in failed.reason


async def test_a_late_payment_does_not_revive_a_failed_bill(uow) -> None:
    bill = await issue(uow)
    failed, paid = shortfall(bill.booking_id), payment(bill.booking_id)
    await handlers.insufficient_fund(failed, uow.handling(delivered(failed), "billing"))
    await handlers.paid_booking(paid, uow.handling(delivered(paid), "billing"))
    assert uow.bills.rows[bill.id].status is BillStatus.FAILED


@pytest.mark.parametrize("event", [payment(uuid.uuid4()), shortfall(uuid.uuid4())])
async def test_an_outcome_for_an_unknown_bill_raises_not_found(uow, event: SagaEvent) -> None:
    handler = handlers.EVENT_HANDLERS[event.event_type]
    with pytest.raises(NotFound):
        await handler(event, uow.handling(delivered(event, "payment"), "billing"))
    assert uow.inbox == set()


async def test_the_same_envelope_twice_is_handled_once(uow) -> None:
    event = approval(uuid.uuid4())
    envelope = delivered(event)
    await handlers.approved_booking(event, uow.handling(envelope, "billing"))
    with pytest.raises(AlreadyProcessed):
        await handlers.approved_booking(event, uow.handling(envelope, "billing"))
    assert len(uow.bills.rows) == 1 and uow.commits == 1


def test_billing_listens_to_approval_payment_shortfall_and_expiry() -> None:
    assert set(handlers.EVENT_HANDLERS) == {
        EventType.APPROVED_BOOKING_EVENT,
        EventType.PAID_BOOKING_EVENT,
        EventType.INSUFFICIENT_FUND_EVENT,
        EventType.PAYMENT_EXPIRED_EVENT,
    }


async def test_views_find_by_status_and_customer(uow) -> None:
    await issue(uow)
    found, total = await views.bills(
        BillFilter(status=BillStatus.PENDING, customer_id="alice"), 10, 0, uow
    )
    assert total == 1 and found[0].customer_id == "alice"
    assert (await views.bills(BillFilter(status=BillStatus.PAID), 10, 0, uow))[1] == 0
    with pytest.raises(NotFound):
        await views.bill(uuid.uuid4(), uow)


async def test_an_expired_payment_cancels_the_bill_and_publishes_nothing(uow) -> None:
    bill = await issue(uow)
    published = len(uow.outbox)
    expired = PaymentExpired(
        booking_id=bill.booking_id,
        customer_id="alice",
        amount=Decimal("120.00"),
        expired_at=datetime.now(UTC),
        reason="payment timed out",
    )
    await handlers.payment_expired(expired, uow.handling(delivered(expired, "payment"), "billing"))
    assert bill.status is BillStatus.CANCELLED and bill.reason == "payment timed out"
    assert len(uow.outbox) == published
    late = payment(bill.booking_id)  # a payment can no longer arrive; if it did: no change
    await handlers.paid_booking(late, uow.handling(delivered(late, "payment"), "billing"))
    assert bill.status is BillStatus.CANCELLED


def test_the_approval_that_issues_the_bill_is_never_read_in_the_background() -> None:
    assert EventType.APPROVED_BOOKING_EVENT not in SPEC.background
    assert SPEC.background == SPEC.handlers.keys() - {EventType.APPROVED_BOOKING_EVENT}
