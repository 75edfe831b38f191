"""HTTP response bodies of the billing API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from billing.domain.model import Bill, BillStatus


class BillPublic(BaseModel):
    """A bill as the API shows it."""

    id: uuid.UUID
    booking_id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: BillStatus
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, bill: Bill) -> BillPublic:
        """Copy a domain bill into the response shape."""
        return cls(
            id=bill.id,
            booking_id=bill.booking_id,
            customer_id=bill.customer_id,
            item=bill.item,
            amount=bill.amount,
            status=bill.status,
            reason=bill.reason,
            created_at=bill.created_at,
            updated_at=bill.updated_at,
        )
