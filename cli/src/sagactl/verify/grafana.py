"""Grafana: the Prometheus and Jaeger data sources are healthy and the Saga dashboards exist.

kube-prometheus-stack 88.5.3 ships Grafana 13.2.0. What this module relies on, read in
grafana/grafana (commits named in cli/tests/unit/fixtures/README.md):
- pkg/api/datasources.go, checkDatasourceHealth: GET /api/datasources/uid/:uid/health
  answers `{"status": "OK", "message": ...}` with 200, or the same with
  `"status": "ERROR"` (or "UNKNOWN") and 400; plugin messages in
  pkg/promlib/healthcheck.go and pkg/tsdb/jaeger/jaeger.go (CheckHealth).
- docs/sources/developer-resources/api-reference/http-api/dashboard.md, "Get dashboard
  by uid": GET /api/dashboards/uid/:uid answers `{"dashboard": {"uid", "title", ...},
  "meta": {...}}`, or 404 with `{"message": "Dashboard not found"}`
  (pkg/services/dashboards/errors.go).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from sagactl.verify.outcome import Outcome, http_failure


def dashboard_uids(directory: Path) -> list[str]:
    """The uids of the dashboards shipped as JSON files in a directory."""
    return sorted(str(json.loads(path.read_text())["uid"]) for path in directory.glob("*.json"))


def health_outcome(uid: str, status: int, body: Any) -> Outcome:
    """Pass when Grafana's health check of the data source says OK."""
    name = f"grafana: data source {uid} is healthy"
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message", ""))
    if status == 200 and body.get("status") == "OK":
        return Outcome(name, True, message)
    if status in (401, 403):
        return Outcome(name, False, f"HTTP {status} {message}: check GRAFANA_USER/GRAFANA_PASSWORD")
    return Outcome(name, False, f"HTTP {status} {body.get('status', '')}: {message}".strip())


def dashboard_outcome(uid: str, status: int, body: Any) -> Outcome:
    """Pass when Grafana returns the dashboard with that uid."""
    name = f"grafana: dashboard {uid} exists"
    body = body if isinstance(body, dict) else {}
    dashboard = body.get("dashboard") or {}
    if status == 200 and dashboard.get("uid") == uid:
        return Outcome(name, True, str(dashboard.get("title", "")))
    return Outcome(name, False, f"HTTP {status}: {body.get('message', 'no such dashboard')}")


async def _get(http: httpx.AsyncClient, url: str) -> tuple[int, Any]:
    response = await http.get(url)
    try:
        return response.status_code, response.json()
    except ValueError:  # e.g. an HTML login page
        return response.status_code, {"message": response.text[:200]}


async def check(
    http: httpx.AsyncClient, base_url: str, datasources: list[str], dashboards: list[str]
) -> list[Outcome]:
    """Health of each data source and presence of each dashboard, by uid."""
    base = base_url.rstrip("/")
    outcomes = []
    for uid in datasources:
        try:
            outcomes.append(
                health_outcome(uid, *await _get(http, f"{base}/api/datasources/uid/{uid}/health"))
            )
        except httpx.HTTPError as exc:
            outcomes.append(http_failure(f"grafana: data source {uid}", exc))
    for uid in dashboards:
        try:
            outcomes.append(
                dashboard_outcome(uid, *await _get(http, f"{base}/api/dashboards/uid/{uid}"))
            )
        except httpx.HTTPError as exc:
            outcomes.append(http_failure(f"grafana: dashboard {uid}", exc))
    return outcomes
