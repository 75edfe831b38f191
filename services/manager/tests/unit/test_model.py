import uuid
from datetime import UTC, datetime, timedelta
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


def test_an_approval_without_a_timeout_never_falls_due() -> None:
    approval = new_approval()
    assert approval.expires_at is None
    assert not approval.time_out(datetime.now(UTC) + timedelta(days=365))


def test_an_undecided_approval_times_out_into_a_rejection() -> None:
    approval = Approval.request(uuid.uuid4(), "alice", "Room", Decimal("1.00"), timedelta(hours=1))
    assert approval.expires_at is not None
    assert not approval.time_out(approval.expires_at - timedelta(seconds=1))
    assert approval.time_out(approval.expires_at)
    assert approval.status is ApprovalStatus.REJECTED and approval.timed_out
    assert approval.reason == "approval timed out"
    [event] = approval.events
    assert isinstance(event, RejectedBooking) and event.reason == "approval timed out"
    assert not approval.time_out(approval.expires_at + timedelta(hours=1))  # once


def test_a_decision_after_the_time_out_is_a_conflict() -> None:
    approval = Approval.request(uuid.uuid4(), "alice", "Room", Decimal("1.00"), timedelta(hours=1))
    assert approval.expires_at is not None
    approval.time_out(approval.expires_at)
    with pytest.raises(Conflict, match="timed out"):
        approval.approve()
    with pytest.raises(Conflict, match="timed out"):
        approval.reject("full")
    assert len(approval.events) == 1


def test_a_decided_approval_never_times_out() -> None:
    approval = Approval.request(uuid.uuid4(), "alice", "Room", Decimal("1.00"), timedelta(hours=1))
    approval.approve()
    assert approval.expires_at is not None
    assert not approval.time_out(approval.expires_at + timedelta(hours=1))
    assert approval.status is ApprovalStatus.APPROVED
