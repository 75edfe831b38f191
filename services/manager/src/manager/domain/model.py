"""The approval of one booking and the only ways it may be decided."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sagakit.domain import Aggregate
from sagakit.errors import Conflict
from sagakit.events import ApprovedBooking, RejectedBooking

TIMED_OUT = "approval timed out"


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
    # Pending past this, it is rejected with TIMED_OUT; None: it waits as long as it takes.
    expires_at: datetime | None = None

    @classmethod
    def request(
        cls,
        booking_id: uuid.UUID,
        customer_id: str,
        item: str,
        amount: Decimal,
        timeout: timedelta | None = None,
    ) -> Approval:
        """A new pending approval, due within `timeout` when given; raises no event."""
        now = datetime.now(UTC)
        return cls(
            booking_id=booking_id,
            customer_id=customer_id,
            item=item,
            amount=amount,
            status=ApprovalStatus.PENDING,
            created_at=now,
            expires_at=now + timeout if timeout is not None else None,
        )

    @property
    def timed_out(self) -> bool:
        """Rejected because nobody decided before the deadline."""
        return self.status is ApprovalStatus.REJECTED and self.reason == TIMED_OUT

    def is_due(self, now: datetime) -> bool:
        """Still pending and past its deadline: it must be rejected as timed out."""
        return (
            self.status is ApprovalStatus.PENDING
            and self.expires_at is not None
            and now >= self.expires_at
        )

    def time_out(self, now: datetime) -> bool:
        """Nobody decided in time: rejected with TIMED_OUT; False if not due."""
        return self.is_due(now) and self.reject(TIMED_OUT)

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
        # send the saga both ways, so it is refused. A person deciding after the
        # deadline decided is refused too: nobody made that decision before.
        if self.timed_out:
            raise Conflict(
                f"the approval of booking {self.booking_id} timed out at "
                f"{self.expires_at.isoformat() if self.expires_at else 'its deadline'}: "
                f"it was rejected ({TIMED_OUT}) and cannot be {decision.value} now"
            )
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
