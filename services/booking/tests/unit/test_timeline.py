import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from booking.domain.model import Booking
from booking.domain.timeline import JournalEntry, timeline
from sagakit.events import EventType as E

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PRODUCERS = {
    E.CREATED_BOOKING_EVENT: "booking",
    E.APPROVED_BOOKING_EVENT: "manager",
    E.REJECTED_BOOKING_EVENT: "manager",
    E.BILLED_BOOKING_EVENT: "billing",
    E.PAID_BOOKING_EVENT: "payment",
    E.INSUFFICIENT_FUND_EVENT: "payment",
    E.INVOICE_GENERATED_EVENT: "invoice",
}


def booking_at(t0: datetime = T0) -> Booking:
    booking = Booking.create("alice", "Room 101", Decimal("120.00"))
    return replace(booking, created_at=t0, updated_at=t0)


def journaled(booking: Booking, *steps: tuple[E, int]) -> list[JournalEntry]:
    """Entries for `(event type, ms after the booking was created)`."""
    return [
        JournalEntry(
            booking_id=booking.id,
            event_id=uuid.uuid4(),
            event_type=event_type,
            producer=PRODUCERS[event_type],
            occurred_at=booking.created_at + timedelta(milliseconds=ms),
            recorded_at=booking.created_at + timedelta(milliseconds=ms + 1),
            trace_id=TRACE,
        )
        for event_type, ms in steps
    ]


def finish(booking: Booking, move: str, at_ms: int, *args: str) -> None:
    assert getattr(booking, move)(*args)
    booking.updated_at = booking.created_at + timedelta(milliseconds=at_ms)


def test_a_reserved_saga_is_finished_with_every_step_timed() -> None:
    booking = booking_at()
    entries = journaled(
        booking,
        (E.CREATED_BOOKING_EVENT, 2),
        (E.APPROVED_BOOKING_EVENT, 10),
        (E.BILLED_BOOKING_EVENT, 15),
        (E.PAID_BOOKING_EVENT, 500),
        (E.INVOICE_GENERATED_EVENT, 520),
    )
    booking.approve()
    finish(booking, "reserve", 525)
    saga = timeline(booking, reversed(entries), now=T0 + timedelta(hours=1))
    assert [step.entry.event_type for step in saga.steps] == [e.event_type for e in entries]
    gaps = [step.since_previous / timedelta(milliseconds=1) for step in saga.steps]
    assert gaps == [2, 8, 5, 485, 20]
    assert saga.finished and saga.expected_next is None
    assert saga.ended_at == T0 + timedelta(milliseconds=525)
    assert saga.duration == timedelta(milliseconds=525)
    assert saga.trace_id == TRACE


def test_a_compensated_saga_ends_failed_after_insufficient_funds() -> None:
    booking = booking_at()
    entries = journaled(
        booking,
        (E.CREATED_BOOKING_EVENT, 1),
        (E.APPROVED_BOOKING_EVENT, 3),
        (E.BILLED_BOOKING_EVENT, 6),
        (E.INSUFFICIENT_FUND_EVENT, 40),
    )
    booking.approve()
    finish(booking, "fail", 42, "insufficient funds")
    saga = timeline(booking, entries, now=T0 + timedelta(seconds=5))
    assert saga.steps[-1].entry.event_type is E.INSUFFICIENT_FUND_EVENT
    assert saga.finished and saga.expected_next is None
    assert saga.duration == timedelta(milliseconds=42)


def test_a_rejected_saga_is_finished_after_two_steps() -> None:
    booking = booking_at()
    entries = journaled(booking, (E.CREATED_BOOKING_EVENT, 1), (E.REJECTED_BOOKING_EVENT, 900))
    finish(booking, "reject", 901, "full")
    saga = timeline(booking, entries, now=T0 + timedelta(seconds=5))
    assert [step.entry.producer for step in saga.steps] == ["booking", "manager"]
    assert saga.finished and saga.expected_next is None and saga.ended_at is not None


def test_a_billed_saga_waits_for_the_customers_payment() -> None:
    booking = booking_at()
    entries = journaled(
        booking,
        (E.CREATED_BOOKING_EVENT, 1),
        (E.APPROVED_BOOKING_EVENT, 3),
        (E.BILLED_BOOKING_EVENT, 6),
    )
    booking.approve()
    saga = timeline(booking, entries, now=T0 + timedelta(seconds=2))
    assert not saga.finished and saga.ended_at is None
    assert saga.duration == timedelta(seconds=2)
    assert saga.expected_next is not None
    assert saga.expected_next.event_types == (
        E.PAID_BOOKING_EVENT,
        E.INSUFFICIENT_FUND_EVENT,
        E.PAYMENT_EXPIRED_EVENT,
    )
    assert saga.expected_next.producer == "payment"
    assert "payment" in saga.expected_next.note
    assert "PAYMENT_TIMEOUT_SECONDS" in saga.expected_next.note  # payment's, not booking's


def test_each_running_step_names_who_acts_next() -> None:
    booking = booking_at()
    seen: list[tuple[E, int]] = []
    expectations = []
    for event_type in (None, E.CREATED_BOOKING_EVENT, E.APPROVED_BOOKING_EVENT):
        if event_type is not None:
            seen.append((event_type, len(seen) + 1))
        saga = timeline(booking, journaled(booking, *seen), now=T0)
        assert saga.expected_next is not None
        expectations.append((saga.expected_next.producer, saga.expected_next.event_types))
    paid = journaled(booking, *seen, (E.BILLED_BOOKING_EVENT, 5), (E.PAID_BOOKING_EVENT, 9))
    after_payment = timeline(booking, paid, now=T0).expected_next
    assert after_payment is not None
    expectations.append((after_payment.producer, after_payment.event_types))
    assert expectations == [
        ("booking", (E.CREATED_BOOKING_EVENT,)),
        ("manager", (E.APPROVED_BOOKING_EVENT, E.REJECTED_BOOKING_EVENT)),
        ("billing", (E.BILLED_BOOKING_EVENT,)),
        ("invoice", (E.INVOICE_GENERATED_EVENT,)),
    ]


def test_an_event_journaled_late_does_not_move_the_expectation_back() -> None:
    booking = booking_at()
    # The manager's approval was journaled, the booking's own CREATED not yet.
    entries = journaled(booking, (E.APPROVED_BOOKING_EVENT, 4))
    booking.approve()
    saga = timeline(booking, entries, now=T0)
    assert saga.expected_next is not None and saga.expected_next.producer == "billing"
    assert saga.steps[0].since_previous == timedelta(milliseconds=4)


def test_a_saga_without_steps_has_no_trace_id_yet() -> None:
    saga = timeline(booking_at(), [], now=T0 + timedelta(milliseconds=3))
    assert saga.steps == () and saga.trace_id is None
    assert saga.duration == timedelta(milliseconds=3)
