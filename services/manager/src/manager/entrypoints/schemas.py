"""HTTP request and response bodies of the manager API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from manager.domain.model import Approval, ApprovalStatus
from sagakit.api import FreeText, StrictBody

DEFAULT_REJECTION_REASON = "rejected by manager"


class ApprovalReject(StrictBody):
    """What a manager may say when rejecting a booking."""

    reason: FreeText = Field(
        default=DEFAULT_REJECTION_REASON,
        max_length=500,
        examples=["the room is closed for repairs"],
    )


class ApprovalPublic(BaseModel):
    """An approval as the API shows it."""

    booking_id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: ApprovalStatus
    reason: str | None
    created_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None = Field(
        description="The deadline: still pending then, it is rejected (approval timed out)."
    )

    @classmethod
    def of(cls, approval: Approval) -> ApprovalPublic:
        """Copy a domain approval into the response shape."""
        return cls(
            booking_id=approval.booking_id,
            customer_id=approval.customer_id,
            item=approval.item,
            amount=approval.amount,
            status=approval.status,
            reason=approval.reason,
            created_at=approval.created_at,
            decided_at=approval.decided_at,
            expires_at=approval.expires_at,
        )
