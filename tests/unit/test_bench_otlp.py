"""The benchmark's OTLP receiver: a real OTLP/HTTP endpoint the SDK's exporter talks to."""

import asyncio

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from sagabench.otlp import Receiver


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.stop()


def tracer(receiver: Receiver, service: str, compression: Compression):
    exporter = OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces", compression=compression)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), provider


def test_it_decodes_spans_and_tells_how_each_saga_was_traced(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "false")  # the test plugin turns the SDK off
    booking, _ = tracer(receiver, "booking", Compression.NoCompression)
    billing, _ = tracer(receiver, "billing", Compression.Gzip)
    with booking.start_as_current_span("POST /bookings", kind=SpanKind.SERVER) as root:
        root.set_attribute("saga.booking_id", "b-1")
        with booking.start_as_current_span("publish", kind=SpanKind.PRODUCER) as hop:
            hop.set_attribute("saga.booking_id", "b-1")
            with billing.start_as_current_span("process", kind=SpanKind.CONSUMER) as consume:
                consume.set_attribute("saga.booking_id", "b-1")
    with billing.start_as_current_span("process", kind=SpanKind.CONSUMER) as stray:
        stray.set_attribute("saga.booking_id", "b-2")  # its own trace
    with booking.start_as_current_span("process", kind=SpanKind.CONSUMER) as other:
        other.set_attribute("saga.booking_id", "b-2")  # another one: two traces for b-2

    stats = asyncio.run(receiver.settled(quiet=0.2))
    assert stats["spans"] == 5 and stats["traces"] == 3
    assert stats["by_service"] == {"booking": 3, "billing": 2}
    assert receiver.sagas(["b-1", "b-2", "b-3"]) == {
        "sagas": 3,
        "in_one_trace": 1,
        "in_no_trace": 1,
        "services": ["billing", "booking"],
    }


def test_its_env_turns_tracing_on_sampled_and_exported_to_it(receiver: Receiver) -> None:
    env = receiver.env()
    assert env["OTEL_SDK_DISABLED"] != "true"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == receiver.endpoint + "/v1/traces"
    assert env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] == "http/protobuf"
