"""OpenTelemetry SDK set up once per process, from the standard OTEL_* variables only.

- `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`: the resource (service name
  defaults to the service's own name).
- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`), `..._PROTOCOL`
  (`http/protobuf` by default, or `grpc`), `..._HEADERS`: where spans go. With no
  endpoint nothing is exported, but spans still exist so logs carry trace ids.
- `OTEL_TRACES_SAMPLER` / `..._ARG`: the sampler; `OTEL_SDK_DISABLED=true`: off, and
  then nothing is instrumented at all (no wrapper runs on any call).

What is traced: HTTP requests (server spans), each publish and each message handled
(FastStream's producer and consumer spans, sagakit.transport), outgoing httpx calls.
A span per SQL statement and per Redis command is opt-in (TRACE_SQL_STATEMENTS,
TRACE_REDIS_COMMANDS): nobody reads them day to day and they cost on every call.

Two additions keep the traces useful: root spans of background polling (stream
reads, outbox polls: client or internal spans with no parent) are not sampled,
and every span started under a saga's baggage gets `saga.booking_id`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.tracing import BOOKING_ID

log = logging.getLogger(__name__)
_configured = False
_sql_statements = False


class SkipBackgroundRoots(Sampler):
    """Drop root client/internal spans (polls); delegate everything else."""

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid and kind in (SpanKind.CLIENT, SpanKind.INTERNAL, None):
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"SkipBackgroundRoots({self._delegate.get_description()})"


class BookingIdFromBaggage(SpanProcessor):
    """Copy the saga's booking id from baggage onto every span started in it."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        booking_id = baggage.get_baggage(BOOKING_ID, parent_context)
        if booking_id is not None:
            span.set_attribute(BOOKING_ID, str(booking_id))

    def on_end(self, span: ReadableSpan) -> None:
        return None


def configure(
    service_name: str, *, sql_statements: bool = False, redis_commands: bool = False
) -> None:
    """Install the tracer provider and the instrumentations (once per process).

    `sql_statements` and `redis_commands` add a span per SQL statement (engines passed
    to `instrument_engine`) and per Redis command.
    """
    global _configured, _sql_statements
    if _configured or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    _configured = True
    _sql_statements = sql_statements
    os.environ.setdefault("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(
        resource=Resource.create(), sampler=SkipBackgroundRoots(_get_from_env_or_default())
    )
    provider.add_span_processor(BookingIdFromBaggage())
    exporter = _exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument_libraries(redis_commands)


def _exporter() -> SpanExporter | None:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not endpoint:
        return None
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter()


def enabled() -> bool:
    """Whether this process traces (`configure` ran with the SDK on)."""
    return _configured


def _instrument_libraries(redis_commands: bool) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    if redis_commands:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()


def instrument_engine(engine: AsyncEngine) -> None:
    """Trace the engine's SQL statements (a span per statement) if configured to."""
    if not (_configured and _sql_statements):
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)


def instrument_app(app: Any) -> None:
    """Trace the FastAPI app's requests (health, readiness and metrics excluded)."""
    if not _configured:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
