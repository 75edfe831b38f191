"""A booking's saga told by the events the booking service journaled, and what it waits for."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from booking.domain.model import Booking
from sagakit.events import Envelope, EventType

E = EventType


@dataclass(frozen=True)
class JournalEntry:
    """One saga event the booking service saw, journaled with the effect it had."""

    booking_id: uuid.UUID
    event_id: uuid.UUID
    event_type: EventType
    producer: str
    occurred_at: datetime
    recorded_at: datetime
    trace_id: str | None = None
    causation_id: uuid.UUID | None = None

    @classmethod
    def of(cls, envelope: Envelope, trace_id: str | None, recorded_at: datetime) -> JournalEntry:
        """The entry of an incoming envelope, handled in trace `trace_id`."""
        return cls(
            booking_id=envelope.booking_id,
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            producer=envelope.producer,
            occurred_at=envelope.occurred_at,
            recorded_at=recorded_at,
            trace_id=trace_id,
            causation_id=envelope.causation_id,
        )


@dataclass(frozen=True)
class Step:
    """A journaled event and the time since the step before it (or since the booking)."""

    entry: JournalEntry
    since_previous: timedelta


@dataclass(frozen=True)
class Expected:
    """The event(s) the saga waits for next, who publishes them, and why it may take a while."""

    event_types: tuple[EventType, ...]
    producer: str
    note: str


# How far an event takes the saga; the furthest one seen decides what comes next,
# so an event journaled late (the booking's own CREATED, say) changes nothing.
_PROGRESS = {
    E.CREATED_BOOKING_EVENT: 1,
    E.APPROVED_BOOKING_EVENT: 2,
    E.REJECTED_BOOKING_EVENT: 2,
    E.BILLED_BOOKING_EVENT: 3,
    E.PAID_BOOKING_EVENT: 4,
    E.INSUFFICIENT_FUND_EVENT: 4,
    E.PAYMENT_EXPIRED_EVENT: 4,
    E.INVOICE_GENERATED_EVENT: 5,
}
_NEXT: dict[EventType | None, Expected] = {
    None: Expected((E.CREATED_BOOKING_EVENT,), "booking", "the outbox relay publishes it"),
    E.CREATED_BOOKING_EVENT: Expected(
        (E.APPROVED_BOOKING_EVENT, E.REJECTED_BOOKING_EVENT),
        "manager",
        "waiting for the manager (automatic unless AUTO_APPROVE=false; "
        "then at most APPROVAL_TIMEOUT_SECONDS)",
    ),
    E.APPROVED_BOOKING_EVENT: Expected(
        (E.BILLED_BOOKING_EVENT,), "billing", "billing issues the bill"
    ),
    E.BILLED_BOOKING_EVENT: Expected(
        (E.PAID_BOOKING_EVENT, E.INSUFFICIENT_FUND_EVENT, E.PAYMENT_EXPIRED_EVENT),
        "payment",
        "waiting for the customer's payment, at most PAYMENT_TIMEOUT_SECONDS",
    ),
    E.PAID_BOOKING_EVENT: Expected(
        (E.INVOICE_GENERATED_EVENT,), "invoice", "invoice generates the invoice"
    ),
}


@dataclass(frozen=True)
class Timeline:
    """The steps of one booking's saga so far, in the order they occurred."""

    booking: Booking
    steps: tuple[Step, ...]
    expected_next: Expected | None
    now: datetime

    @property
    def finished(self) -> bool:
        """The booking reached reserved, rejected, failed or expired."""
        return self.booking.status.is_final

    @property
    def trace_id(self) -> str | None:
        """The saga's trace id: the one its first step was handled in."""
        return self.steps[0].entry.trace_id if self.steps else None

    @property
    def started_at(self) -> datetime:
        """When the booking was created."""
        return self.booking.created_at

    @property
    def ended_at(self) -> datetime | None:
        """When the booking reached its final state; None while it runs."""
        return self.booking.updated_at if self.finished else None

    @property
    def duration(self) -> timedelta:
        """From creation to the final state, or until now while it runs."""
        return (self.ended_at or self.now) - self.started_at


def timeline(booking: Booking, entries: Iterable[JournalEntry], now: datetime) -> Timeline:
    """Order the journal by occurrence, time each step and say what comes next."""
    ordered = sorted(entries, key=lambda e: (e.occurred_at, _PROGRESS[e.event_type]))
    steps, previous = [], booking.created_at
    for entry in ordered:
        steps.append(Step(entry, entry.occurred_at - previous))
        previous = entry.occurred_at
    return Timeline(booking, tuple(steps), expected_next(booking, ordered), now)


def expected_next(booking: Booking, entries: Iterable[JournalEntry]) -> Expected | None:
    """What the saga waits for; None once the booking is final."""
    if booking.status.is_final:
        return None
    furthest = max(entries, key=lambda e: _PROGRESS[e.event_type], default=None)
    return _NEXT.get(furthest.event_type if furthest else None)
