"""The Jaeger check against Jaeger 2.19's documented api_v3 answers (fixtures/README.md)."""

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from sagactl.client import SERVICES
from sagactl.verify import jaeger
from sagakit.tracing import BOOKING_ID

FIXTURES = Path(__file__).parent / "fixtures" / "jaeger"
BOOKING = "0f5c2a5e-8d1b-4c1e-9a55-3e2b1f7d9c40"  # the one in saga-trace.json
TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"
RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"


def saga() -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "saga-trace.json").read_text()))


def resources(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spans = body["result"]["resourceSpans"]
    return {r["resource"]["attributes"][0]["value"]["stringValue"]: r for r in spans}


def judged(body: dict[str, Any]) -> jaeger.Outcome:
    return jaeger.answer(BOOKING, 200, json.dumps(body), SERVICES)


def test_jaegers_own_snapshot_parses_into_its_one_trace() -> None:
    body = json.loads((FIXTURES / "FindTraces.json").read_text())
    assert jaeger.services_by_trace(body) == {"00000000000000000000000000000001": {"?"}}


def test_one_trace_with_all_five_services_passes() -> None:
    assert jaeger.services_by_trace(saga()) == {TRACE: set(SERVICES)}
    outcome = judged(saga())
    assert outcome.ok, outcome.detail
    assert TRACE in outcome.detail


def test_a_trace_missing_a_service_fails_and_names_it() -> None:
    body = saga()
    body["result"]["resourceSpans"].remove(resources(body)["invoice"])
    outcome = judged(body)
    assert not outcome.ok
    assert f"trace {TRACE} lacks invoice" in outcome.detail


def test_a_saga_split_over_two_traces_fails() -> None:
    body = saga()
    for service in ("payment", "invoice"):
        for scope in resources(body)[service]["scopeSpans"]:
            for span in scope["spans"]:
                span["traceId"] = "f" * 32
    outcome = judged(body)
    assert not outcome.ok
    assert "lacks invoice, payment" in outcome.detail and "lacks billing, booking" in outcome.detail


def test_two_complete_traces_for_one_booking_fail() -> None:
    body = saga()
    twin = copy.deepcopy(body["result"]["resourceSpans"])
    for resource in twin:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                span["traceId"] = "e" * 32
    body["result"]["resourceSpans"] += twin
    outcome = judged(body)
    assert not outcome.ok
    assert outcome.detail.startswith("2 complete traces")


def test_no_trace_yet_is_jaegers_404_and_fails() -> None:
    outcome = jaeger.answer(BOOKING, 404, (FIXTURES / "no-traces.txt").read_text(), SERVICES)
    assert not outcome.ok
    assert outcome.detail == f"no trace tagged saga.booking_id={BOOKING}"


def test_an_error_or_a_foreign_answer_fails() -> None:
    assert not jaeger.answer(BOOKING, 500, '{"error":{"httpCode":500}}', SERVICES).ok
    assert not jaeger.answer(BOOKING, 200, "<html>not jaeger</html>", SERVICES).ok


def conforms_to_query_parser(request: httpx.Request) -> httpx.Response:
    """Reject what Jaeger 2.19's parseFindTracesQuery rejects (query_parser.go)."""
    params = request.url.params
    if request.url.path != "/api/v3/traces":
        return httpx.Response(404)
    for name in ("query.startTimeMin", "query.startTimeMax"):
        if not re.fullmatch(RFC3339, params.get(name, "")):
            return httpx.Response(400, text=f"malformed parameter {name}")
    if datetime.fromisoformat(params["query.startTimeMin"]) >= datetime.fromisoformat(
        params["query.startTimeMax"]
    ):
        return httpx.Response(400, text="query.startTimeMin must be before query.startTimeMax")
    attributes = json.loads(params["query.attributes"])
    assert all(isinstance(value, str) for value in attributes.values())
    assert int(params["query.searchDepth"]) > 0
    matches = params["query.serviceName"] == "booking" and attributes == {BOOKING_ID: BOOKING}
    if not matches:
        return httpx.Response(404, text=(FIXTURES / "no-traces.txt").read_text())
    return httpx.Response(200, text=(FIXTURES / "saga-trace.json").read_text())


async def test_the_search_is_a_query_jaeger_accepts_and_finds_the_saga() -> None:
    transport = httpx.MockTransport(conforms_to_query_parser)
    async with httpx.AsyncClient(transport=transport) as http:
        found = await jaeger.saga_trace(http, "http://jaeger:16686/", BOOKING, SERVICES)
        other = await jaeger.saga_trace(http, "http://jaeger:16686", "b-unknown", SERVICES)
    assert found.ok, found.detail
    assert not other.ok and "no trace tagged" in other.detail


async def test_an_unreachable_jaeger_fails_with_where_it_looked() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        outcome = await jaeger.saga_trace(http, "http://127.0.0.1:16686", BOOKING, SERVICES)
    assert not outcome.ok
    assert outcome.detail == "http://127.0.0.1:16686/api/v3/traces: ConnectError: refused"
