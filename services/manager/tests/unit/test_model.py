import uuid
from decimal import Decimal

import pytest

from manager.domain.model import Approval, ApprovalStatus
from sagakit.errors import Conflict
from sagakit.events import ApprovedBooking, RejectedBooking


def new_approval() -> Approval:
    return Approval.request(uuid.uuid4(), "alice", "Room 101", Decimal("120.00"))


def test_a_requested_approval_is_pending_and_raises_nothing() -> None:
    approval = new_approval()
    assert approval.status is ApprovalStatus.PENDING
    assert approval.reason is None and approval.decided_at is None
    assert approval.events == []


def test_approving_raises_approved_event_with_item_and_amount() -> None:
    approval = new_approval()
    assert approval.approve()
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.decided_at is not None and approval.decided_at >= approval.created_at
    assert approval.events == [
        ApprovedBooking(
            booking_id=approval.booking_id,
            customer_id="alice",
            item="Room 101",
            amount=Decimal("120.00"),
        )
    ]


def test_rejecting_raises_rejected_event_with_the_reason() -> None:
    approval = new_approval()
    assert approval.reject("no rooms left")
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.reason == "no rooms left"
    assert approval.events == [
        RejectedBooking(booking_id=approval.booking_id, customer_id="alice", reason="no rooms left")
    ]


def test_repeating_a_decision_is_a_no_op_without_a_new_event() -> None:
    approved = new_approval()
    approved.approve()
    assert not approved.approve()
    assert len(approved.events) == 1
    rejected = new_approval()
    rejected.reject("first")
    assert not rejected.reject("second")
    assert rejected.reason == "first"
    assert len(rejected.events) == 1


def test_rejecting_an_approved_booking_is_a_conflict() -> None:
    approval = new_approval()
    approval.approve()
    with pytest.raises(Conflict, match="already approved"):
        approval.reject("too late")
    assert approval.status is ApprovalStatus.APPROVED
    assert approval.reason is None
    assert len(approval.events) == 1


def test_approving_a_rejected_booking_is_a_conflict() -> None:
    approval = new_approval()
    approval.reject("no rooms left")
    with pytest.raises(Conflict, match="already rejected"):
        approval.approve()
    assert approval.status is ApprovalStatus.REJECTED
    assert len(approval.events) == 1
