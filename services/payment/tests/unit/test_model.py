import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from payment.domain.model import Customer, Payment, PaymentStatus
from sagakit.events import InsufficientFund, PaidBooking, PaymentExpired


def customer(credit: str, customer_id: str = "alice") -> Customer:
    return Customer(customer_id=customer_id, credit=Decimal(credit), updated_at=datetime.now(UTC))


def new_payment(amount: str = "120.00") -> Payment:
    return Payment.open(
        uuid.uuid4(), uuid.uuid4(), "alice", "Room 101", Decimal(amount), timedelta(minutes=15)
    )


def test_an_open_payment_awaits_the_whole_amount_and_raises_nothing() -> None:
    payment = new_payment()
    assert payment.status is PaymentStatus.AWAITING_PAYMENT
    assert payment.amount_due == Decimal("120.00")
    assert payment.settled_at is None
    assert payment.events == []


def test_enough_credit_pays_and_debits_the_amount_exactly_once() -> None:
    payment, alice = new_payment(), customer("200.00")
    assert payment.settle(alice)
    assert not payment.settle(alice)
    assert alice.credit == Decimal("80.00")
    assert payment.status is PaymentStatus.PAID
    assert payment.amount_due == Decimal("0.00")
    assert payment.settled_at is not None
    assert payment.events == [
        PaidBooking(
            booking_id=payment.booking_id,
            customer_id="alice",
            item="Room 101",
            amount=Decimal("120.00"),
            paid_at=payment.settled_at,
        )
    ]


def test_credit_equal_to_the_amount_is_enough() -> None:
    payment, alice = new_payment(), customer("120.00")
    assert payment.settle(alice)
    assert payment.status is PaymentStatus.PAID
    assert alice.credit == Decimal("0.00")


def test_insufficient_funds_leaves_the_credit_untouched() -> None:
    payment, alice = new_payment(), customer("119.99")
    assert payment.settle(alice)
    assert alice.credit == Decimal("119.99")
    assert payment.status is PaymentStatus.INSUFFICIENT_FUNDS
    assert payment.amount_due == Decimal("0.00")
    assert payment.events == [
        InsufficientFund(
            booking_id=payment.booking_id,
            customer_id="alice",
            amount=Decimal("120.00"),
            available_credit=Decimal("119.99"),
        )
    ]


def test_an_unknown_customer_has_insufficient_funds_with_zero_credit() -> None:
    payment = new_payment()
    assert payment.settle(None)
    assert payment.status is PaymentStatus.INSUFFICIENT_FUNDS
    [event] = payment.events
    assert isinstance(event, InsufficientFund)
    assert event.available_credit == Decimal("0.00")


def test_a_settled_payment_never_settles_again() -> None:
    payment = new_payment()
    payment.settle(customer("1.00"))
    payment.events.clear()
    rich = customer("1000.00")
    assert not payment.settle(rich)
    assert payment.status is PaymentStatus.INSUFFICIENT_FUNDS
    assert rich.credit == Decimal("1000.00")
    assert payment.events == []


def test_settling_with_another_customers_credit_is_refused() -> None:
    with pytest.raises(ValueError, match="bob"):
        new_payment().settle(customer("500.00", customer_id="bob"))


def test_set_credit_replaces_the_credit_instead_of_adding() -> None:
    alice = customer("50.00")
    alice.set_credit(Decimal("20.00"))
    assert alice.credit == Decimal("20.00")
    with pytest.raises(ValueError, match="negative"):
        alice.set_credit(Decimal("-1.00"))


def test_a_debit_never_takes_the_credit_below_zero() -> None:
    alice = customer("10.00")
    with pytest.raises(ValueError, match="cannot debit"):
        alice.debit(Decimal("10.01"))
    assert alice.credit == Decimal("10.00")


def test_a_payment_is_due_only_while_awaiting_and_past_its_deadline() -> None:
    payment = new_payment()
    assert payment.expires_at is not None
    assert payment.expires_at - payment.created_at == timedelta(minutes=15)
    assert not payment.is_due(payment.expires_at - timedelta(seconds=1))
    assert payment.is_due(payment.expires_at)
    assert not payment.expire(payment.expires_at - timedelta(seconds=1))
    assert payment.events == []


def test_an_unpaid_payment_past_its_deadline_expires_once_and_says_so() -> None:
    payment = new_payment()
    assert payment.expires_at is not None
    later = payment.expires_at + timedelta(seconds=5)
    assert payment.expire(later)
    assert payment.status is PaymentStatus.EXPIRED and payment.status.is_settled
    assert payment.amount_due == Decimal("0.00") and payment.settled_at == later
    [event] = payment.events
    assert isinstance(event, PaymentExpired)
    assert event.expired_at == payment.expires_at and event.reason == "payment timed out"
    assert event.amount == Decimal("120.00") and event.customer_id == "alice"
    assert not payment.expire(later)  # once
    assert not payment.settle(customer("500.00"), later)  # and never paid after


def test_a_paid_payment_never_expires() -> None:
    payment, alice = new_payment(), customer("200.00")
    assert payment.settle(alice)
    assert payment.expires_at is not None
    assert not payment.expire(payment.expires_at + timedelta(hours=1))
    assert payment.status is PaymentStatus.PAID and len(payment.events) == 1


def test_a_payment_past_its_deadline_refuses_to_be_charged() -> None:
    payment, alice = new_payment(), customer("200.00")
    assert payment.expires_at is not None
    with pytest.raises(ValueError, match="deadline"):
        payment.settle(alice, payment.expires_at)
    assert alice.credit == Decimal("200.00") and payment.events == []
