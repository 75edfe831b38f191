"""The approval of one booking and the only ways it may be decided."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sagakit.domain import Aggregate
from sagakit.errors import Conflict
from sagakit.events import ApprovedBooking, RejectedBooking


class ApprovalStatus(StrEnum):
    """Whether the manager has decided on a booking, and how."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(kw_only=True)
class Approval(Aggregate):
    """The manager's decision on one booking: made once, never reversed."""

    booking_id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: ApprovalStatus
    reason: str | None = None
    created_at: datetime
    decided_at: datetime | None = None

    @classmethod
    def request(
        cls, booking_id: uuid.UUID, customer_id: str, item: str, amount: Decimal
    ) -> Approval:
        """A new pending approval for a booking that was just created; raises no event."""
        return cls(
            booking_id=booking_id,
            customer_id=customer_id,
            item=item,
            amount=amount,
            status=ApprovalStatus.PENDING,
            created_at=datetime.now(UTC),
        )

    def approve(self) -> bool:
        """Approve; raises APPROVED_BOOKING_EVENT. False if it already was approved."""
        if not self._decide(ApprovalStatus.APPROVED):
            return False
        self.raise_event(
            ApprovedBooking(
                booking_id=self.booking_id,
                customer_id=self.customer_id,
                item=self.item,
                amount=self.amount,
            )
        )
        return True

    def reject(self, reason: str) -> bool:
        """Reject; raises REJECTED_BOOKING_EVENT. False if it already was rejected."""
        if not self._decide(ApprovalStatus.REJECTED, reason):
            return False
        self.raise_event(
            RejectedBooking(booking_id=self.booking_id, customer_id=self.customer_id, reason=reason)
        )
        return True

    def _decide(self, decision: ApprovalStatus, reason: str | None = None) -> bool:
        # Repeating a decision is a retry, not an error; reversing one would
        # send the saga both ways, so it is refused.
        if self.status is decision:
            return False
        if self.status is not ApprovalStatus.PENDING:
            raise Conflict(
                f"booking {self.booking_id} is already {self.status.value}; "
                f"it cannot be {decision.value} too"
            )
        self.status = decision
        self.reason = reason
        self.decided_at = datetime.now(UTC)
        return True
