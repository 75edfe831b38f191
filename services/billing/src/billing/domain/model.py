"""The bill and the only ways its state may change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sagakit.domain import Aggregate
from sagakit.events import CENT, BilledBooking


class BillStatus(StrEnum):
    """Where a bill is: waiting for the payment outcome, or settled either way."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """Paid, failed and cancelled never change again."""
        return self is not BillStatus.PENDING


@dataclass(kw_only=True)
class Bill(Aggregate):
    """What a customer owes for one approved booking; its status only ever moves forward."""

    id: uuid.UUID
    booking_id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: BillStatus
    reason: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def issue(cls, booking_id: uuid.UUID, customer_id: str, item: str, amount: Decimal) -> Bill:
        """A new pending bill for a booking, in cents; raises BILLED_BOOKING_EVENT."""
        # Events arrive in cents already, but the domain is also called with plain
        # Decimals ("120.5"); the bill, its row and BILLED all say "120.50".
        amount = amount.quantize(CENT)
        now = datetime.now(UTC)
        bill = cls(
            id=uuid.uuid4(),
            booking_id=booking_id,
            customer_id=customer_id,
            item=item,
            amount=amount,
            status=BillStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        bill.raise_event(
            BilledBooking(
                booking_id=booking_id,
                bill_id=bill.id,
                customer_id=customer_id,
                item=item,
                amount=amount,
            )
        )
        return bill

    def mark_paid(self) -> bool:
        """The customer's credit was debited."""
        return self._move(BillStatus.PAID)

    def fail(self, reason: str) -> bool:
        """Compensation: the customer could not pay."""
        return self._move(BillStatus.FAILED, reason)

    def cancel(self, reason: str) -> bool:
        """Compensation: nobody paid before the payment's deadline; nothing is owed."""
        return self._move(BillStatus.CANCELLED, reason)

    def _move(self, target: BillStatus, reason: str | None = None) -> bool:
        # A stale, repeated or out-of-order event never reopens a settled bill:
        # a PAID that arrives after INSUFFICIENT_FUND changes nothing.
        if self.status.is_final or target is self.status:
            return False
        self.status = target
        self.reason = reason
        self.updated_at = datetime.now(UTC)
        return True
