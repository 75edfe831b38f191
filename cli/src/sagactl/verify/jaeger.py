"""Jaeger: the demo's booking is one trace with spans of all five services.

Jaeger v2 (2.19, chart 4.11.1) serves its query API api_v3 over HTTP. What this module
relies on, read in jaegertracing/jaeger at tag v2.19.0:
- cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/query_parser.go: GET
  /api/v3/traces takes `query.serviceName`, `query.attributes` (a JSON object of
  string values), `query.startTimeMin` and `query.startTimeMax` (both required,
  RFC 3339) and `query.searchDepth` (at most the store's max_traces).
- .../apiv3/http_gateway.go (findTraces, returnTraces): 200 with
  `{"result": {"resourceSpans": [...]}}`, the OTLP JSON of every matching trace merged
  into one list (each span carries its hex `traceId`, each resource its
  `service.name`); 404 with `{"error": {"httpCode": 404, "message": "No traces found"}}`
  when nothing matches. Example: .../apiv3/snapshots/FindTraces.json.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sagactl.verify.outcome import Outcome, http_failure
from sagakit.tracing import BOOKING_ID

SEARCH = "/api/v3/traces"
ROOT_SERVICE = "booking"  # its POST /bookings span starts the saga's trace
SEARCH_DEPTH = 20


def search_params(booking_id: str, now: datetime, lookback: timedelta) -> dict[str, str]:
    """The api_v3 query for traces in which a booking span carries the booking id."""
    return {
        "query.serviceName": ROOT_SERVICE,
        "query.attributes": json.dumps({BOOKING_ID: booking_id}),
        "query.startTimeMin": (now - lookback).isoformat(),
        "query.startTimeMax": (now + timedelta(minutes=1)).isoformat(),
        "query.searchDepth": str(SEARCH_DEPTH),
    }


def services_by_trace(body: dict[str, Any]) -> dict[str, set[str]]:
    """The services that sent spans to each trace of an api_v3 answer."""
    traces: dict[str, set[str]] = defaultdict(set)
    for resource_spans in body.get("result", {}).get("resourceSpans", []):
        service = _service_name(resource_spans.get("resource", {}))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                traces[span["traceId"]].add(service)
    return dict(traces)


def _service_name(resource: dict[str, Any]) -> str:
    for attribute in resource.get("attributes", []):
        if attribute.get("key") == "service.name":
            return str(attribute.get("value", {}).get("stringValue", "?"))
    return "?"


def judge(booking_id: str, traces: dict[str, set[str]], expected: Collection[str]) -> Outcome:
    """Pass when exactly one trace has spans of every expected service."""
    name = f"jaeger: booking {booking_id} is one trace with spans of {len(expected)} services"
    complete = sorted(trace for trace, services in traces.items() if set(expected) <= services)
    if len(complete) == 1:
        return Outcome(name, True, f"trace {complete[0]}: {', '.join(sorted(expected))}")
    if complete:
        return Outcome(name, False, f"{len(complete)} complete traces: {', '.join(complete)}")
    if not traces:
        return Outcome(name, False, f"no trace tagged {BOOKING_ID}={booking_id}")
    seen = "; ".join(
        f"trace {trace} lacks {', '.join(sorted(set(expected) - services))}"
        for trace, services in sorted(traces.items())
    )
    return Outcome(name, False, seen)


def answer(booking_id: str, status: int, text: str, expected: Collection[str]) -> Outcome:
    """Judge one HTTP answer of the search (200 traces, 404 none yet, else an error)."""
    if status == 404:
        return judge(booking_id, {}, expected)
    name = f"jaeger: booking {booking_id} is one trace"
    if status != 200:
        return Outcome(name, False, f"HTTP {status} from {SEARCH}: {text[:300]}")
    try:
        traces = services_by_trace(json.loads(text))
    except (ValueError, KeyError, AttributeError) as exc:  # not an api_v3 answer
        return Outcome(name, False, f"unexpected answer from {SEARCH}: {exc!r}: {text[:200]}")
    return judge(booking_id, traces, expected)


async def saga_trace(
    http: httpx.AsyncClient,
    base_url: str,
    booking_id: str,
    expected: Collection[str],
    lookback: timedelta = timedelta(hours=1),
) -> Outcome:
    """Search Jaeger for the booking's traces and judge them."""
    params = search_params(booking_id, datetime.now(UTC), lookback)
    try:
        response = await http.get(base_url.rstrip("/") + SEARCH, params=params)
    except httpx.HTTPError as exc:
        return http_failure(f"jaeger: booking {booking_id}", exc)
    return answer(booking_id, response.status_code, response.text, expected)
