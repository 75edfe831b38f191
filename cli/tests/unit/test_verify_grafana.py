"""The Grafana checks against Grafana's documented answers (fixtures/README.md)."""

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import yaml

from sagactl.verify import command, grafana

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures" / "grafana"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_healthy_prometheus_and_jaeger_data_sources_pass() -> None:
    prometheus = grafana.health_outcome("prometheus", 200, fixture("health-prometheus-ok.json"))
    jaeger = grafana.health_outcome("jaeger", 200, fixture("health-jaeger-ok.json"))
    assert prometheus.ok and prometheus.detail == "Successfully queried the Prometheus API."
    assert jaeger.ok and jaeger.detail == "Data source is working"


def test_a_data_source_health_error_fails_with_grafanas_message() -> None:
    outcome = grafana.health_outcome("jaeger", 400, fixture("health-jaeger-error.json"))
    assert not outcome.ok
    assert outcome.detail.startswith("HTTP 400 ERROR: Get ")
    assert "no such host" in outcome.detail


def test_a_status_that_is_not_ok_fails_even_with_200() -> None:
    body = {**fixture("health-jaeger-ok.json"), "status": "UNKNOWN"}
    assert not grafana.health_outcome("jaeger", 200, body).ok


def test_a_wrong_password_says_so() -> None:
    outcome = grafana.health_outcome("prometheus", 401, {"message": "Invalid username or password"})
    assert not outcome.ok and "GRAFANA_PASSWORD" in outcome.detail


def test_the_documented_dashboard_answer_passes_for_its_uid() -> None:
    outcome = grafana.dashboard_outcome("cIBgcSjkk", 200, fixture("dashboard-by-uid.json"))
    assert outcome.ok and outcome.detail == "Production Overview"


def test_a_missing_dashboard_fails() -> None:
    outcome = grafana.dashboard_outcome("saga-overview", 404, fixture("dashboard-not-found.json"))
    assert not outcome.ok and outcome.detail == "HTTP 404: Dashboard not found"


def test_another_dashboards_answer_does_not_count() -> None:
    assert not grafana.dashboard_outcome("saga-overview", 200, fixture("dashboard-by-uid.json")).ok


def replay(request: httpx.Request) -> httpx.Response:
    """Grafana's documented answers, behind basic auth as kube-prometheus-stack sets it up."""
    if (
        request.headers.get("Authorization")
        != "Basic " + base64.b64encode(b"admin:s3cret").decode()
    ):
        return httpx.Response(401, json={"message": "Unauthorized"})
    answers = {
        "/api/datasources/uid/prometheus/health": (200, "health-prometheus-ok.json"),
        "/api/datasources/uid/jaeger/health": (400, "health-jaeger-error.json"),
        "/api/dashboards/uid/cIBgcSjkk": (200, "dashboard-by-uid.json"),
    }
    status, name = answers.get(request.url.path, (404, "dashboard-not-found.json"))
    return httpx.Response(status, json=fixture(name))


async def test_check_asks_grafana_by_uid_with_the_admin_login() -> None:
    auth = httpx.BasicAuth("admin", "s3cret")
    async with httpx.AsyncClient(transport=httpx.MockTransport(replay), auth=auth) as http:
        outcomes = await grafana.check(
            http, "http://grafana:3000/", ["prometheus", "jaeger"], ["cIBgcSjkk", "saga-overview"]
        )
    assert [(o.name, o.ok) for o in outcomes] == [
        ("grafana: data source prometheus is healthy", True),
        ("grafana: data source jaeger is healthy", False),
        ("grafana: dashboard cIBgcSjkk exists", True),
        ("grafana: dashboard saga-overview exists", False),
    ]


def test_the_checked_uids_are_those_the_dashboards_and_provisioning_use() -> None:
    dashboards = ROOT / "observability" / "grafana" / "dashboards"
    assert grafana.dashboard_uids(dashboards) == ["saga-overview", "saga-service-red"]
    used = {
        ref["uid"]
        for path in dashboards.glob("*.json")
        for ref in datasource_refs(json.loads(path.read_text()))
        if ref.get("type") != "grafana"
    }
    provisioning = ROOT / "observability" / "grafana" / "provisioning" / "datasources"
    sources = yaml.safe_load((provisioning / "datasources.yaml").read_text())["datasources"]
    [prometheus] = [source for source in sources if source["uid"] == "prometheus"]
    exemplars = {d["datasourceUid"] for d in prometheus["jsonData"]["exemplarTraceIdDestinations"]}
    assert set(command.DATASOURCES) == used | exemplars == {"prometheus", "jaeger"}


def datasource_refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node["datasource"]] if isinstance(node.get("datasource"), dict) else []
        return own + [ref for value in node.values() for ref in datasource_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in datasource_refs(item)]
    return []
