"""HTTP request and response bodies of the booking API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from booking.domain.model import Booking, BookingStatus
from sagakit.web import Amount, CustomerId, StrictBody


class BookingCreate(StrictBody):
    """What a customer sends to book an item."""

    customer_id: CustomerId
    item: str = Field(min_length=1, max_length=200, examples=["Room 101, 2 nights"])
    amount: Amount


class BookingPublic(BaseModel):
    """A booking as the API shows it."""

    id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: BookingStatus
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, booking: Booking) -> BookingPublic:
        """Copy a domain booking into the response shape."""
        return cls(
            id=booking.id,
            customer_id=booking.customer_id,
            item=booking.item,
            amount=booking.amount,
            status=booking.status,
            reason=booking.reason,
            created_at=booking.created_at,
            updated_at=booking.updated_at,
        )
