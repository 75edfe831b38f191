"""Logs: one JSON object per line with the trace, the saga and the event it concerns.

Fields: timestamp, level, service, logger, message, trace_id, span_id,
booking_id, event_type (and exc_info when there is one). The trace comes from
the current span, the booking id from the saga's baggage or the log context,
the event type from the log context the consumer and relay set.
`LOG_FORMAT=text` prints the same fields as a readable line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import baggage, trace

from sagakit.tracing import BOOKING_ID

_fields: ContextVar[dict[str, str]] = ContextVar("saga_log_fields", default={})  # noqa: B039


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add fields (event_type, booking_id) to every log line written in the block."""
    token = _fields.set({**_fields.get(), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _fields.reset(token)


def current_fields(service: str) -> dict[str, Any]:
    """The correlation fields of a log line written now."""
    span = trace.get_current_span().get_span_context()
    fields: dict[str, Any] = {
        "service": service,
        "trace_id": f"{span.trace_id:032x}" if span.is_valid else None,
        "span_id": f"{span.span_id:016x}" if span.is_valid else None,
        "booking_id": baggage.get_baggage(BOOKING_ID),
        "event_type": None,
    }
    fields.update(_fields.get())
    return fields


class JsonFormatter(logging.Formatter):
    """A JSON object per record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **current_fields(self.service),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """A readable line that still carries the correlation fields."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = current_fields(self.service)
        extra = " ".join(
            f"{key}={fields[key]}"
            for key in ("booking_id", "event_type", "trace_id")
            if fields[key]
        )
        return f"{super().format(record)}{'  ' + extra if extra else ''}"


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger (uvicorn's included) through one formatter on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
