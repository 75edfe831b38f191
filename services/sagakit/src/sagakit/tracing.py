"""W3C trace context carried by every message, so one saga keeps one trace id.

At commit, the current context is written into the outbox row's headers; the
relay publishes those headers with the message; the consumer continues from
them while it handles the event, so the events it raises inherit the context.
With no tracing configured, a fresh trace id is minted at the start of a saga
(sampled flag off) so the correlation still travels.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

TRACEPARENT = "traceparent"
BOOKING_ID = "saga.booking_id"
_BAGGAGE = W3CBaggagePropagator()


def outgoing_headers() -> dict[str, str]:
    """The current trace context (and baggage) as message headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if TRACEPARENT not in carrier:
        minted = SpanContext(
            trace_id=secrets.randbits(128) or 1,
            span_id=secrets.randbits(64) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
        )
        propagate.inject(carrier, context=trace.set_span_in_context(NonRecordingSpan(minted)))
    return carrier


@contextmanager
def continued(headers: Mapping[str, str], booking_id: str | None = None) -> Iterator[None]:
    """Handle a message in its saga's context: trace (unless a consumer span is already
    current, as FastStream's telemetry middleware makes it), baggage, and booking id."""
    current = context.get_current()
    if trace.get_current_span(current).get_span_context().is_valid:
        current = _BAGGAGE.extract(dict(headers), current)
    else:
        current = propagate.extract(dict(headers), current)
    if booking_id is not None:
        current = baggage.set_baggage(BOOKING_ID, booking_id, current)
        trace.get_current_span(current).set_attribute(BOOKING_ID, booking_id)
    token = context.attach(current)
    try:
        yield
    finally:
        context.detach(token)


def _tracer() -> trace.Tracer:
    return trace.get_tracer("sagakit")


@contextmanager
def consuming(
    headers: Mapping[str, str], destination: str, message_id: str, booking_id: str | None
) -> Iterator[None]:
    """Handle one message in a consumer span `<destination> process`, a child of the
    producer span whose context the message carries, with the saga's baggage.

    Without the SDK (no span is recorded) the message's own context is made current, so
    the events the handler raises still carry the saga's trace id.
    """
    parent = propagate.extract(dict(headers))
    if booking_id is not None:
        parent = baggage.set_baggage(BOOKING_ID, booking_id, parent)
    attributes = {
        "messaging.system": "redis",
        "messaging.operation": "process",
        "messaging.destination.name": destination,
        "messaging.message.id": message_id,
    }
    span = _tracer().start_span(
        f"{destination} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    )
    recording = span.get_span_context().is_valid
    token = context.attach(trace.set_span_in_context(span, parent) if recording else parent)
    try:
        yield
    except BaseException as exc:
        if recording:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, repr(exc)))
        raise
    finally:
        context.detach(token)
        span.end()


def producing(headers: Mapping[str, str], destination: str) -> tuple[dict[str, str], Span]:
    """Start the producer span `<destination> publish` of one message, a child of the
    context stored with it; returns the headers to publish (carrying that span) and the
    span, which the caller ends once Redis took the message."""
    parent = propagate.extract(dict(headers))
    attributes = {
        "messaging.system": "redis",
        "messaging.operation": "publish",
        "messaging.destination.name": destination,
    }
    span = _tracer().start_span(
        f"{destination} publish", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
    )
    if not span.get_span_context().is_valid:
        return dict(headers), span
    carrier = dict(headers)
    propagate.inject(carrier, context=trace.set_span_in_context(span, parent))
    return carrier, span


@contextmanager
def bound_to_booking(booking_id: str) -> Iterator[None]:
    """Mark the current request as part of a saga: span attribute and baggage."""
    trace.get_current_span().set_attribute(BOOKING_ID, booking_id)
    token = context.attach(baggage.set_baggage(BOOKING_ID, booking_id))
    try:
        yield
    finally:
        context.detach(token)


def continue_saga(saga_context: Mapping[str, str], name: str) -> dict[str, str]:
    """Headers for events a command raises on an aggregate that belongs to a saga.

    The command (the customer's payment, a manager's decision) arrives as its own
    HTTP request with its own trace. The events it raises must stay in the saga's
    trace, so a span is started as a child of the saga's stored context, linked to
    the request's span (and the request's span linked back to it when the SDK
    allows), and the events are published in that span's context.
    """
    request = trace.get_current_span()
    parent = propagate.extract(dict(saga_context))
    if (
        request.get_span_context().trace_id
        == trace.get_current_span(parent).get_span_context().trace_id
    ):
        return outgoing_headers()
    links = [Link(request.get_span_context())] if request.get_span_context().is_valid else []
    tracer = trace.get_tracer("sagakit")
    with tracer.start_as_current_span(name, context=parent, links=links) as span:
        headers = outgoing_headers()
    if request.is_recording() and span.get_span_context().is_valid:
        request.add_link(span.get_span_context(), {"saga.continued": True})
    return headers


def trace_id(headers: Mapping[str, str]) -> str | None:
    """The 32-hex trace id in a `traceparent` header, if any."""
    value = headers.get(TRACEPARENT, "")
    parts = value.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
