import json
import uuid
from decimal import Decimal

import pytest

from sagakit.events import (
    EVENT_MODELS,
    BilledBooking,
    CreatedBooking,
    Envelope,
    EventType,
    MalformedEvent,
    parse_envelope,
)


def created() -> CreatedBooking:
    return CreatedBooking(
        booking_id=uuid.uuid4(), customer_id="alice", item="Room", amount=Decimal("12.50")
    )


def test_every_event_type_of_the_contract_has_a_payload_model() -> None:
    assert set(EVENT_MODELS) == set(EventType)
    assert {t.value for t in EventType} == {
        "CREATED_BOOKING_EVENT",
        "APPROVED_BOOKING_EVENT",
        "REJECTED_BOOKING_EVENT",
        "BILLED_BOOKING_EVENT",
        "PAID_BOOKING_EVENT",
        "INSUFFICIENT_FUND_EVENT",
        "INVOICE_GENERATED_EVENT",
        "PAYMENT_EXPIRED_EVENT",
    }


def test_envelope_round_trips_through_json() -> None:
    event = created()
    causation = uuid.uuid4()
    envelope = Envelope.wrap(event, "booking", causation)
    parsed = parse_envelope(envelope.model_dump_json())
    assert parsed == envelope
    assert parsed.causation_id == causation
    assert parsed.event() == event
    assert parsed.payload == {"customer_id": "alice", "item": "Room", "amount": "12.50"}


def test_envelope_has_exactly_the_contract_fields() -> None:
    body = Envelope.wrap(created(), "booking", None).model_dump(mode="json")
    assert set(body) == {
        "event_id",
        "event_type",
        "booking_id",
        "causation_id",
        "occurred_at",
        "producer",
        "schema_version",
        "payload",
    }
    assert body["schema_version"] == 1


def test_malformed_json_names_what_is_wrong() -> None:
    with pytest.raises(MalformedEvent, match="event_id"):
        parse_envelope(b'{"event_type": "CREATED_BOOKING_EVENT"}')
    with pytest.raises(MalformedEvent):
        parse_envelope(b"not json at all")


def test_unknown_event_type_is_malformed() -> None:
    body = Envelope.wrap(created(), "booking", None).model_dump(mode="json")
    body["event_type"] = "SOMETHING_ELSE"
    with pytest.raises(MalformedEvent, match="event_type"):
        parse_envelope(json.dumps(body))


def test_payload_not_matching_its_event_type_is_malformed() -> None:
    envelope = Envelope.wrap(created(), "booking", None)
    wrong = envelope.model_copy(update={"event_type": EventType.BILLED_BOOKING_EVENT})
    with pytest.raises(MalformedEvent, match="bill_id"):
        wrong.event()


def test_unsupported_schema_version_is_malformed() -> None:
    envelope = Envelope.wrap(created(), "booking", None).model_copy(update={"schema_version": 2})
    with pytest.raises(MalformedEvent, match="schema_version"):
        envelope.event()


def test_consumers_ignore_payload_fields_they_do_not_know() -> None:
    event = BilledBooking(
        booking_id=uuid.uuid4(),
        bill_id=uuid.uuid4(),
        customer_id="a",
        item="R",
        amount=Decimal(1),
    )
    envelope = Envelope.wrap(event, "billing", None)
    newer = envelope.model_copy(update={"payload": {**envelope.payload, "currency": "EUR"}})
    assert newer.event() == event
