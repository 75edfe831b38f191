"""The booking and the only ways its state may change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sagakit.domain import Aggregate
from sagakit.events import CreatedBooking


class BookingStatus(StrEnum):
    """Where a booking is in its saga."""

    PENDING = "pending"
    APPROVED = "approved"
    RESERVED = "reserved"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        """Reserved, rejected, failed and expired never change again."""
        return _RANK[self] == _FINAL


_FINAL = 2
_RANK = {
    BookingStatus.PENDING: 0,
    BookingStatus.APPROVED: 1,
    BookingStatus.RESERVED: _FINAL,
    BookingStatus.REJECTED: _FINAL,
    BookingStatus.FAILED: _FINAL,
    BookingStatus.EXPIRED: _FINAL,
}


@dataclass(kw_only=True)
class Booking(Aggregate):
    """A customer's request for an item; its status only ever moves forward."""

    id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: BookingStatus
    reason: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(
        cls, customer_id: str, item: str, amount: Decimal, booking_id: uuid.UUID | None = None
    ) -> Booking:
        """A new pending booking; raises CREATED_BOOKING_EVENT."""
        now = datetime.now(UTC)
        booking = cls(
            id=booking_id or uuid.uuid4(),
            customer_id=customer_id,
            item=item,
            amount=amount,
            status=BookingStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        booking.raise_event(
            CreatedBooking(booking_id=booking.id, customer_id=customer_id, item=item, amount=amount)
        )
        return booking

    def approve(self) -> bool:
        """The manager approved it."""
        return self._move(BookingStatus.APPROVED)

    def reject(self, reason: str) -> bool:
        """The manager rejected it."""
        return self._move(BookingStatus.REJECTED, reason)

    def reserve(self) -> bool:
        """Paid and invoiced: the booking is done."""
        return self._move(BookingStatus.RESERVED)

    def fail(self, reason: str) -> bool:
        """Compensation: the customer could not pay."""
        return self._move(BookingStatus.FAILED, reason)

    def expire(self, reason: str) -> bool:
        """Compensation: nobody paid before the payment's deadline."""
        return self._move(BookingStatus.EXPIRED, reason)

    def _move(self, target: BookingStatus, reason: str | None = None) -> bool:
        # A stale or out-of-order event never moves a booking backwards:
        # an APPROVED that arrives after INVOICE_GENERATED changes nothing.
        if self.status.is_final or _RANK[target] <= _RANK[self.status]:
            return False
        self.status = target
        self.reason = reason
        self.updated_at = datetime.now(UTC)
        return True
