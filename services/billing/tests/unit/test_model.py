import uuid
from decimal import Decimal

from billing.domain.model import Bill, BillStatus
from sagakit.events import BilledBooking


def new_bill() -> Bill:
    return Bill.issue(uuid.uuid4(), "alice", "Room 101", Decimal("120.00"))


def test_new_bill_is_pending_and_raises_billed_event() -> None:
    bill = new_bill()
    assert bill.status is BillStatus.PENDING
    assert bill.reason is None
    assert bill.events == [
        BilledBooking(
            booking_id=bill.booking_id,
            bill_id=bill.id,
            customer_id="alice",
            item="Room 101",
            amount=Decimal("120.00"),
        )
    ]


def test_payment_moves_pending_to_paid() -> None:
    bill = new_bill()
    assert bill.mark_paid()
    assert bill.status is BillStatus.PAID
    assert bill.updated_at >= bill.created_at


def test_insufficient_funds_fail_the_bill_with_a_reason() -> None:
    bill = new_bill()
    assert bill.fail("insufficient funds")
    assert bill.status is BillStatus.FAILED
    assert bill.reason == "insufficient funds"


def test_a_paid_bill_never_fails() -> None:
    bill = new_bill()
    bill.mark_paid()
    assert not bill.fail("late")
    assert bill.status is BillStatus.PAID
    assert bill.reason is None


def test_a_stale_payment_after_failure_changes_nothing() -> None:
    bill = new_bill()
    bill.fail("insufficient funds")
    assert not bill.mark_paid()
    assert bill.status is BillStatus.FAILED
    assert bill.reason == "insufficient funds"


def test_repeating_a_transition_reports_no_change() -> None:
    bill = new_bill()
    assert bill.mark_paid()
    assert not bill.mark_paid()


def test_only_pending_is_not_final() -> None:
    assert [status for status in BillStatus if not status.is_final] == [BillStatus.PENDING]


def test_the_amount_is_billed_in_cents() -> None:
    bill = Bill.issue(uuid.uuid4(), "alice", "Room 101", Decimal("120.5"))
    assert str(bill.amount) == "120.50"
    assert bill.events[0].payload()["amount"] == "120.50"


def test_an_expired_payment_cancels_the_pending_bill_for_good() -> None:
    bill = new_bill()
    assert bill.cancel("payment timed out")
    assert bill.status is BillStatus.CANCELLED and bill.status.is_final
    assert bill.reason == "payment timed out"
    assert not bill.mark_paid() and not bill.fail("late")
    assert bill.status is BillStatus.CANCELLED


def test_a_paid_bill_is_never_cancelled() -> None:
    bill = new_bill()
    bill.mark_paid()
    assert not bill.cancel("payment timed out")
    assert bill.status is BillStatus.PAID
