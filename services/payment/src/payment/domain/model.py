"""Customers' credit, payment requests and the only ways they may change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sagakit.domain import Aggregate
from sagakit.events import InsufficientFund, PaidBooking, PaymentExpired

ZERO = Decimal("0.00")
TIMED_OUT = "payment timed out"


@dataclass(kw_only=True)
class Customer(Aggregate):
    """Someone who pays bills from the credit they hold."""

    customer_id: str
    credit: Decimal
    updated_at: datetime

    @classmethod
    def new(cls, customer_id: str) -> Customer:
        """A customer without credit yet."""
        return cls(customer_id=customer_id, credit=ZERO, updated_at=datetime.now(UTC))

    def set_credit(self, amount: Decimal) -> None:
        """Make the available credit exactly `amount` (it replaces, it does not add)."""
        if amount < 0:
            raise ValueError(f"credit cannot be negative: {amount}")
        self.credit = amount
        self.updated_at = datetime.now(UTC)

    def debit(self, amount: Decimal) -> None:
        """Take `amount` from the credit; the credit never goes below zero."""
        if amount <= 0 or amount > self.credit:
            raise ValueError(f"cannot debit {amount} from a credit of {self.credit}")
        self.credit -= amount
        self.updated_at = datetime.now(UTC)


class PaymentStatus(StrEnum):
    """Where a booking's payment request is."""

    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED = "expired"

    @property
    def is_settled(self) -> bool:
        """Paid, insufficient funds and expired never change again."""
        return self is not PaymentStatus.AWAITING_PAYMENT


@dataclass(kw_only=True)
class Payment(Aggregate):
    """The request to pay one booking's bill; it is settled at most once."""

    booking_id: uuid.UUID
    bill_id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: PaymentStatus
    created_at: datetime
    settled_at: datetime | None = None
    # None: opened before payments had deadlines, and it never expires.
    expires_at: datetime | None = None

    @classmethod
    def open(
        cls,
        booking_id: uuid.UUID,
        bill_id: uuid.UUID,
        customer_id: str,
        item: str,
        amount: Decimal,
        timeout: timedelta,
    ) -> Payment:
        """A payment request for a bill, due within `timeout` (raises no event)."""
        now = datetime.now(UTC)
        return cls(
            booking_id=booking_id,
            bill_id=bill_id,
            customer_id=customer_id,
            item=item,
            amount=amount,
            status=PaymentStatus.AWAITING_PAYMENT,
            created_at=now,
            expires_at=now + timeout,
        )

    @property
    def amount_due(self) -> Decimal:
        """What is still to pay: the amount while awaiting payment, then nothing."""
        return ZERO if self.status.is_settled else self.amount

    def is_due(self, now: datetime) -> bool:
        """Still awaiting payment and past its deadline: it must expire, not be charged."""
        return (
            self.status is PaymentStatus.AWAITING_PAYMENT
            and self.expires_at is not None
            and now >= self.expires_at
        )

    def expire(self, now: datetime) -> bool:
        """The deadline passed unpaid: expired, PAYMENT_EXPIRED_EVENT; False if not due."""
        if not self.is_due(now) or self.expires_at is None:
            return False
        self.status = PaymentStatus.EXPIRED
        self.settled_at = now
        self.raise_event(
            PaymentExpired(
                booking_id=self.booking_id,
                customer_id=self.customer_id,
                amount=self.amount,
                expired_at=self.expires_at,
                reason=TIMED_OUT,
            )
        )
        return True

    def settle(self, customer: Customer | None, now: datetime | None = None) -> bool:
        """Charge the customer or record insufficient funds; False if already settled.

        Past the deadline it refuses (ValueError): a due payment must `expire` instead.
        """
        # A settled payment never settles again: a repeated submission charges nothing.
        if self.status.is_settled:
            return False
        now = now or datetime.now(UTC)
        if self.is_due(now):
            raise ValueError(f"payment of booking {self.booking_id} is past its deadline")
        if customer is not None and customer.customer_id != self.customer_id:
            raise ValueError(f"payment of {self.customer_id} settled with {customer.customer_id}")
        self.settled_at = now
        if customer is not None and customer.credit >= self.amount:
            self._pay(customer, self.settled_at)
        else:
            self._refuse(customer.credit if customer is not None else ZERO)
        return True

    def _pay(self, customer: Customer, paid_at: datetime) -> None:
        customer.debit(self.amount)
        self.status = PaymentStatus.PAID
        self.raise_event(
            PaidBooking(
                booking_id=self.booking_id,
                customer_id=self.customer_id,
                item=self.item,
                amount=self.amount,
                paid_at=paid_at,
            )
        )

    def _refuse(self, available_credit: Decimal) -> None:
        self.status = PaymentStatus.INSUFFICIENT_FUNDS
        self.raise_event(
            InsufficientFund(
                booking_id=self.booking_id,
                customer_id=self.customer_id,
                amount=self.amount,
                available_credit=available_credit,
            )
        )
