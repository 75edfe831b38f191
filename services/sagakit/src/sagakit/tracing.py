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

from opentelemetry import context, propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

TRACEPARENT = "traceparent"


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
def continued(headers: Mapping[str, str]) -> Iterator[None]:
    """Make the trace context found in message headers current for a block."""
    token = context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        context.detach(token)


def trace_id(headers: Mapping[str, str]) -> str | None:
    """The 32-hex trace id in a `traceparent` header, if any."""
    value = headers.get(TRACEPARENT, "")
    parts = value.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
