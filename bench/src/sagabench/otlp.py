"""An OTLP/HTTP trace receiver in a process of its own, for runs with tracing exported.

The services export as they would to a collector (batched spans, protobuf over HTTP,
`POST /v1/traces`); this receiver decodes every request fully and counts spans, distinct
trace ids and spans per service, and for each saga (`saga.booking_id`) the traces its
message hops (producer and consumer spans) landed in. It runs in its own process so its
CPU is not the services' nor the load generator's. No collector binary is installable
from the package registries this project uses, so this is the receiver.

`python -m sagabench.otlp` prints its port, then serves `POST /v1/traces`,
`GET /stats` and `POST /sagas` (a JSON list of booking ids -> how they were traced).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PRODUCER, CONSUMER = 4, 5
BOOKING_ID = "saga.booking_id"


class Tally:
    """What the receiver saw; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.spans = 0
        self.traces: set[bytes] = set()
        self.by_service: Counter[str] = Counter()
        self.hops: dict[str, set[bytes]] = {}  # booking id -> trace ids of its message hops
        self.services: dict[str, set[str]] = {}  # booking id -> services with its spans

    def add(self, body: bytes) -> None:
        """Decode one ExportTraceServiceRequest and count it."""
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            self.requests += 1
            for resource_spans in request.resource_spans:
                service = next(
                    (a.value.string_value for a in resource_spans.resource.attributes
                     if a.key == "service.name"),
                    "unknown",
                )  # fmt: skip
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self._span(service, span)

    def _span(self, service: str, span: Any) -> None:
        self.spans += 1
        self.traces.add(span.trace_id)
        self.by_service[service] += 1
        booking = next((a.value.string_value for a in span.attributes if a.key == BOOKING_ID), "")
        if booking:
            self.services.setdefault(booking, set()).add(service)
            if span.kind in (PRODUCER, CONSUMER):
                self.hops.setdefault(booking, set()).add(span.trace_id)

    def stats(self) -> dict[str, Any]:
        """Totals so far."""
        with self.lock:
            return {
                "requests": self.requests,
                "spans": self.spans,
                "traces": len(self.traces),
                "by_service": dict(self.by_service),
            }

    def sagas(self, booking_ids: list[str]) -> dict[str, Any]:
        """How these sagas were traced: hops in one trace, services seen."""
        with self.lock:
            hop_traces = [len(self.hops.get(b, ())) for b in booking_ids]
            services = set().union(*(self.services.get(b, set()) for b in booking_ids))
        return {
            "sagas": len(booking_ids),
            "in_one_trace": sum(1 for n in hop_traces if n == 1),
            "in_no_trace": sum(1 for n in hop_traces if n == 0),
            "services": sorted(services),
        }


def serve(port: int = 0) -> None:
    """Serve until killed; the first line printed is the port."""
    tally = Tally()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/sagas":
                self._json(tally.sagas(json.loads(body)))
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            tally.add(body)
            self._reply(ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

        def do_GET(self) -> None:
            self._json(tally.stats())

        def _json(self, value: Any) -> None:
            self._reply(json.dumps(value).encode(), "application/json")

        def _reply(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


class Receiver:
    """The receiver process, started and read by the harness."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sagabench.otlp"], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.process.kill()
            raise RuntimeError("the OTLP receiver did not start (python -m sagabench.otlp)")
        self.endpoint = f"http://127.0.0.1:{port}"

    def env(self) -> dict[str, str]:
        """Service env: tracing on, every trace sampled, exported here over http/protobuf.

        OTEL_BSP_SCHEDULE_DELAY=1000 (default 5000) lets a run's spans arrive a second
        after its end, so they are counted (and their export cost is) in that run.
        """
        return {
            "OTEL_SDK_DISABLED": "false",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": self.endpoint + "/v1/traces",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "1000",
        }

    def _call(self, path: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        url = self.endpoint + path  # always http://127.0.0.1:<port>/...
        with urllib.request.urlopen(url, data=data, timeout=30) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stats(self) -> dict[str, Any]:
        """Totals so far."""
        return self._call("/stats")

    def sagas(self, booking_ids: list[str]) -> dict[str, Any]:
        """How these sagas were traced."""
        return self._call("/sagas", booking_ids)

    async def settled(self, quiet: float = 1.5, limit: float = 20.0) -> dict[str, Any]:
        """Totals once no span arrived for `quiet` seconds (the exporters' last batches)."""
        deadline = time.monotonic() + limit
        last = self.stats()
        while time.monotonic() < deadline:
            await asyncio.sleep(quiet)
            now = self.stats()
            if now["spans"] == last["spans"]:
                return now
            last = now
        return last

    def stop(self) -> None:
        """Stop the process."""
        self.process.terminate()
        self.process.wait(timeout=10)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
