"""The public event contract: event types, their payloads and the envelope.

Event type names come from the original brief and never change. Payloads are
versioned by `schema_version` in the envelope; consumers ignore payload fields
they do not know (tolerant reader), so adding a field is not a breaking change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

SCHEMA_VERSION = 1
CENT = Decimal("0.01")

Money = Annotated[
    Decimal, Field(max_digits=12, decimal_places=2), AfterValidator(lambda v: v.quantize(CENT))
]
"""Money always carries two decimals: "120.50", never "120.5"."""


class EventType(StrEnum):
    """Every integration event of the booking saga."""

    CREATED_BOOKING_EVENT = "CREATED_BOOKING_EVENT"
    APPROVED_BOOKING_EVENT = "APPROVED_BOOKING_EVENT"
    REJECTED_BOOKING_EVENT = "REJECTED_BOOKING_EVENT"
    BILLED_BOOKING_EVENT = "BILLED_BOOKING_EVENT"
    PAID_BOOKING_EVENT = "PAID_BOOKING_EVENT"
    INSUFFICIENT_FUND_EVENT = "INSUFFICIENT_FUND_EVENT"
    INVOICE_GENERATED_EVENT = "INVOICE_GENERATED_EVENT"
    PAYMENT_EXPIRED_EVENT = "PAYMENT_EXPIRED_EVENT"


class SagaEvent(BaseModel):
    """Base of every event: the booking id is the saga's correlation id."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    event_type: ClassVar[EventType]

    booking_id: uuid.UUID

    def payload(self) -> dict[str, Any]:
        """The JSON payload: every field except the correlation id."""
        return self.model_dump(mode="json", exclude={"booking_id"})


class CreatedBooking(SagaEvent):
    """A customer asked for a booking; it waits for approval."""

    event_type = EventType.CREATED_BOOKING_EVENT
    customer_id: str
    item: str
    amount: Money


class ApprovedBooking(SagaEvent):
    """The manager approved the booking; it can be billed."""

    event_type = EventType.APPROVED_BOOKING_EVENT
    customer_id: str
    item: str
    amount: Money


class RejectedBooking(SagaEvent):
    """The manager rejected the booking; the saga ends."""

    event_type = EventType.REJECTED_BOOKING_EVENT
    customer_id: str
    reason: str


class BilledBooking(SagaEvent):
    """A bill was issued; the customer can pay it."""

    event_type = EventType.BILLED_BOOKING_EVENT
    bill_id: uuid.UUID
    customer_id: str
    item: str
    amount: Money


class PaidBooking(SagaEvent):
    """The customer's credit was debited for the bill."""

    event_type = EventType.PAID_BOOKING_EVENT
    customer_id: str
    item: str
    amount: Money
    paid_at: datetime


class InsufficientFund(SagaEvent):
    """The customer's credit did not cover the bill: compensate."""

    event_type = EventType.INSUFFICIENT_FUND_EVENT
    customer_id: str
    amount: Money
    available_credit: Money


class PaymentExpired(SagaEvent):
    """Nobody paid the bill before its deadline: compensate, nothing was charged."""

    event_type = EventType.PAYMENT_EXPIRED_EVENT
    customer_id: str
    amount: Money
    expired_at: datetime
    reason: str


class InvoiceGenerated(SagaEvent):
    """The invoice exists; the booking is complete."""

    event_type = EventType.INVOICE_GENERATED_EVENT
    invoice_id: uuid.UUID
    invoice_number: str
    total: Money


EVENT_MODELS: dict[EventType, type[SagaEvent]] = {
    model.event_type: model
    for model in (
        CreatedBooking,
        ApprovedBooking,
        RejectedBooking,
        BilledBooking,
        PaidBooking,
        InsufficientFund,
        InvoiceGenerated,
        PaymentExpired,
    )
}


class Envelope(BaseModel):
    """The one JSON shape every message has on the wire."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID
    event_type: EventType
    booking_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    occurred_at: datetime
    producer: str
    schema_version: int = Field(ge=1)
    payload: dict[str, Any]

    @classmethod
    def wrap(cls, event: SagaEvent, producer: str, causation_id: uuid.UUID | None) -> Envelope:
        """Put a domain event in a new envelope with a fresh event id."""
        return cls(
            event_id=uuid.uuid4(),
            event_type=event.event_type,
            booking_id=event.booking_id,
            causation_id=causation_id,
            occurred_at=datetime.now(UTC),
            producer=producer,
            schema_version=SCHEMA_VERSION,
            payload=event.payload(),
        )

    def event(self) -> SagaEvent:
        """The typed event inside; raises `MalformedEvent` if the payload is wrong."""
        if self.schema_version != SCHEMA_VERSION:
            raise MalformedEvent(f"unsupported schema_version {self.schema_version}")
        model = EVENT_MODELS[self.event_type]
        try:
            return model.model_validate({**self.payload, "booking_id": self.booking_id})
        except ValidationError as exc:
            raise MalformedEvent(_describe(exc)) from exc


class MalformedEvent(ValueError):
    """A message that can never be processed, however often it is retried."""


def parse_envelope(raw: bytes | str) -> Envelope:
    """Decode an envelope from JSON; raises `MalformedEvent` naming the bad fields."""
    try:
        return Envelope.model_validate_json(raw)
    except ValidationError as exc:
        raise MalformedEvent(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def envelope_model(event_type: EventType) -> type[BaseModel]:
    """An envelope whose payload is typed for one event type (for AsyncAPI documents)."""
    event = EVENT_MODELS[event_type]
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in event.model_fields.items()
        if name != "booking_id"
    }
    payload = create_model(f"{event.__name__}Payload", **fields)
    typed: type[BaseModel] = create_model(
        f"{event.__name__}Envelope",
        __base__=Envelope,
        __doc__=f"{event_type}: {event.__doc__}",
        payload=(payload, ...),
    )
    return typed
