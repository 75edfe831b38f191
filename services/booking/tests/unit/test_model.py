from decimal import Decimal

from booking.domain.model import Booking, BookingStatus
from sagakit.events import CreatedBooking


def new_booking() -> Booking:
    return Booking.create("alice", "Room 101", Decimal("120.00"))


def test_new_booking_is_pending_and_raises_created_event() -> None:
    booking = new_booking()
    assert booking.status is BookingStatus.PENDING
    assert booking.events == [
        CreatedBooking(
            booking_id=booking.id, customer_id="alice", item="Room 101", amount=Decimal("120.00")
        )
    ]


def test_happy_path_moves_pending_to_approved_to_reserved() -> None:
    booking = new_booking()
    assert booking.approve()
    assert booking.reserve()
    assert booking.status is BookingStatus.RESERVED


def test_stale_approval_after_reservation_changes_nothing() -> None:
    booking = new_booking()
    booking.reserve()
    assert not booking.approve()
    assert booking.status is BookingStatus.RESERVED


def test_final_states_never_change() -> None:
    booking = new_booking()
    assert booking.fail("insufficient funds")
    assert not booking.reserve()
    assert not booking.reject("late")
    assert booking.status is BookingStatus.FAILED
    assert booking.reason == "insufficient funds"


def test_compensation_can_overtake_the_approval() -> None:
    booking = new_booking()
    assert booking.fail("insufficient funds")
    assert not booking.approve()
    assert booking.status is BookingStatus.FAILED


def test_repeating_a_transition_reports_no_change() -> None:
    booking = new_booking()
    assert booking.approve()
    assert not booking.approve()


def test_an_expired_payment_ends_the_approved_booking_expired() -> None:
    booking = new_booking()
    booking.approve()
    assert booking.expire("payment timed out")
    assert booking.status is BookingStatus.EXPIRED and booking.status.is_final
    assert booking.reason == "payment timed out"
    assert not booking.reserve() and not booking.fail("late")
    assert booking.status is BookingStatus.EXPIRED


def test_a_reserved_booking_never_expires() -> None:
    booking = new_booking()
    booking.approve()
    booking.reserve()
    assert not booking.expire("payment timed out")
    assert booking.status is BookingStatus.RESERVED
