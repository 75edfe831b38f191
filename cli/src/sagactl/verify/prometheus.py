"""Prometheus: the five services are scraped (`up == 1`) and a `saga:` recording rule has data.

The job label is the service's name: the saga chart's ServiceMonitor takes it from the
Service's `app.kubernetes.io/name` (charts/saga/templates/servicemonitor.yaml), the
local Prometheus names one job per service (observability/prometheus/prometheus.yml).
Answers are Prometheus' documented HTTP API v1: `{"status": "success", "data": ...}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from sagactl.verify.outcome import Outcome, http_failure

RECORDED = 'count by (__name__) ({__name__=~"saga:.+"})'


def up_query(services: Sequence[str]) -> str:
    """PromQL for the `up` series of the services' jobs."""
    jobs = "|".join(services)
    return f'up{{job=~"{jobs}"}}'


def up_outcomes(result: list[dict[str, Any]], services: Sequence[str]) -> list[Outcome]:
    """One outcome per service: it has targets and every one of them is up."""
    outcomes = []
    for service in services:
        values = [float(s["value"][1]) for s in result if s["metric"].get("job") == service]
        up = sum(value == 1 for value in values)
        if not values:
            detail = f"no target with job={service}: not scraped (ServiceMonitor missing?)"
        else:
            detail = f"{up} of {len(values)} targets up"
        outcomes.append(
            Outcome(
                f"prometheus: up == 1 for {service}", bool(values) and up == len(values), detail
            )
        )
    return outcomes


def recorded_outcome(result: list[dict[str, Any]], loaded: int) -> Outcome:
    """Pass when at least one `saga:` recording rule returns data."""
    names = sorted(series["metric"]["__name__"] for series in result)
    name = "prometheus: a saga: recording rule returns data"
    if names:
        return Outcome(name, True, f"{len(names)} with data, e.g. {', '.join(names[:3])}")
    if not loaded:
        return Outcome(name, False, "no saga: recording rule loaded (PrometheusRule missing?)")
    return Outcome(name, False, f"{loaded} saga: recording rules loaded, none has data yet")


def loaded_rules(data: dict[str, Any]) -> int:
    """How many `saga:` recording rules the rules API lists."""
    return sum(
        rule.get("type") == "recording" and str(rule.get("name", "")).startswith("saga:")
        for group in data.get("groups", [])
        for rule in group.get("rules", [])
    )


async def api(http: httpx.AsyncClient, base_url: str, path: str, **params: str) -> Any:
    """The `data` of a Prometheus API answer; raises on an error status."""
    response = await http.get(f"{base_url.rstrip('/')}/api/v1/{path}", params=params)
    body = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        raise httpx.HTTPStatusError(
            f"{response.status_code} {body.get('error', '')}",
            request=response.request,
            response=response,
        )
    return body["data"]


async def check(http: httpx.AsyncClient, base_url: str, services: Sequence[str]) -> list[Outcome]:
    """Every service up, and a `saga:` recording rule with data."""
    try:
        up = await api(http, base_url, "query", query=up_query(services))
        recorded = await api(http, base_url, "query", query=RECORDED)
        rules = await api(http, base_url, "rules", type="record")
    except httpx.HTTPError as exc:
        return [http_failure("prometheus", exc)]
    except ValueError as exc:  # not JSON: something else answers on that port
        return [Outcome("prometheus", False, f"not a Prometheus answer: {exc}")]
    return [
        *up_outcomes(up["result"], services),
        recorded_outcome(recorded["result"], loaded_rules(rules)),
    ]
