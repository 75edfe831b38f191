"""HTTP request and response bodies of the booking API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field

from booking.domain.model import Booking, BookingStatus
from booking.domain.timeline import Expected, Step, Timeline
from sagakit.api import Amount, CustomerId, FreeText, StrictBody
from sagakit.events import EventType


class BookingCreate(StrictBody):
    """What a customer sends to book an item."""

    customer_id: CustomerId | None = Field(
        default=None,
        description="Whose booking: a customer may leave it out (the token's subject is "
        "used) or send its own id; an admin booking on behalf of a customer must send it.",
    )
    item: FreeText = Field(max_length=200, examples=["Room 101, 2 nights"])
    amount: Amount


class BookingPublic(BaseModel):
    """A booking as the API shows it."""

    id: uuid.UUID
    customer_id: str
    item: str
    amount: Decimal
    status: BookingStatus
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, booking: Booking) -> BookingPublic:
        """Copy a domain booking into the response shape."""
        return cls(
            id=booking.id,
            customer_id=booking.customer_id,
            item=booking.item,
            amount=booking.amount,
            status=booking.status,
            reason=booking.reason,
            created_at=booking.created_at,
            updated_at=booking.updated_at,
        )


def _ms(duration: timedelta) -> float:
    return round(duration / timedelta(milliseconds=1), 3)


class TimelineStep(BaseModel):
    """One saga event as the booking service journaled it."""

    event_type: EventType
    producer: str
    event_id: uuid.UUID
    causation_id: uuid.UUID | None
    occurred_at: datetime = Field(description="When the producer raised it (envelope).")
    recorded_at: datetime = Field(description="When the booking service journaled it.")
    since_previous_ms: float = Field(
        description="From the previous step's occurred_at (the first: from the booking's creation)."
    )
    trace_id: str | None = Field(description="W3C trace id the event was handled in.")

    @classmethod
    def of(cls, step: Step) -> TimelineStep:
        """Copy a domain step into the response shape."""
        entry = step.entry
        return cls(
            event_type=entry.event_type,
            producer=entry.producer,
            event_id=entry.event_id,
            causation_id=entry.causation_id,
            occurred_at=entry.occurred_at,
            recorded_at=entry.recorded_at,
            since_previous_ms=_ms(step.since_previous),
            trace_id=entry.trace_id,
        )


class ExpectedStep(BaseModel):
    """What a running saga waits for: one of these events, from this service."""

    event_types: list[EventType]
    producer: str
    note: str

    @classmethod
    def of(cls, expected: Expected) -> ExpectedStep:
        """Copy a domain expectation into the response shape."""
        return cls(
            event_types=list(expected.event_types), producer=expected.producer, note=expected.note
        )


class TimelinePublic(BaseModel):
    """A booking's saga step by step, as the booking service saw it."""

    booking_id: uuid.UUID
    status: BookingStatus
    finished: bool
    trace_id: str | None = Field(description="The saga's trace id (its first step's).")
    started_at: datetime
    ended_at: datetime | None = Field(
        description="When the booking became final; null while running."
    )
    duration_ms: float = Field(description="Until the final state, or until now while running.")
    steps: list[TimelineStep]
    expected_next: ExpectedStep | None = Field(description="Null once the saga is finished.")

    @classmethod
    def of(cls, timeline: Timeline) -> TimelinePublic:
        """Copy a domain timeline into the response shape."""
        expected = timeline.expected_next
        return cls(
            booking_id=timeline.booking.id,
            status=timeline.booking.status,
            finished=timeline.finished,
            trace_id=timeline.trace_id,
            started_at=timeline.started_at,
            ended_at=timeline.ended_at,
            duration_ms=_ms(timeline.duration),
            steps=[TimelineStep.of(step) for step in timeline.steps],
            expected_next=ExpectedStep.of(expected) if expected else None,
        )
