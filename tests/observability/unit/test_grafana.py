"""The shipped Grafana dashboards and provisioning: well formed, on real metrics, linked up."""

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def load_queries() -> ModuleType:
    if "observability_queries" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "queries.py"
        spec = importlib.util.spec_from_file_location("observability_queries", path)
        assert spec is not None and spec.loader is not None
        sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["observability_queries"]


q = load_queries()
GRAFANA = q.OBSERVABILITY / "grafana"
DATASOURCE_UIDS = {"prometheus": "prometheus", "jaeger": "jaeger", "loki": "loki"}
BOARDS = {path.name: path for path in q.DASHBOARDS}


def test_both_dashboards_are_shipped_with_distinct_uids() -> None:
    assert set(BOARDS) == {"saga-overview.json", "service-red.json"}
    uids = [q.load_dashboard(path)["uid"] for path in BOARDS.values()]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_is_recent_json_with_unique_panel_ids(name: str) -> None:
    dashboard = json.loads(BOARDS[name].read_text())
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["id"] is None  # Grafana assigns it; a fixed one clashes on import
    ids = [panel["id"] for panel in q.panels(dashboard)]
    assert len(ids) == len(set(ids)), sorted(ids)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_panels_do_not_overlap(name: str) -> None:
    boxes = [panel["gridPos"] for panel in q.panels(q.load_dashboard(BOARDS[name]))]
    for i, a in enumerate(boxes):
        assert a["x"] + a["w"] <= 24
        for b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["w"] <= b["x"]
                or b["x"] + b["w"] <= a["x"]
                or a["y"] + a["h"] <= b["y"]
                or b["y"] + b["h"] <= a["y"]
            )
            assert apart, f"{a} overlaps {b}"


def datasource_refs(node: Any) -> list[Any]:
    """Every `datasource` value anywhere in a dashboard."""
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [ref for value in node.values() for ref in datasource_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in datasource_refs(item)]
    return []


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_uses_only_the_provisioned_datasources(name: str) -> None:
    allowed = {*DATASOURCE_UIDS.values(), "-- Grafana --", "${datasource}"}
    refs = datasource_refs(q.load_dashboard(BOARDS[name]))
    assert refs
    for ref in refs:
        uid = ref["uid"] if isinstance(ref, dict) else ref
        assert uid in allowed, ref
        if isinstance(ref, dict) and uid in DATASOURCE_UIDS:
            assert ref["type"] == uid, ref


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_queries_read_only_exposed_metrics_and_recording_rules(name: str) -> None:
    known = {**q.series_names(), **dict.fromkeys(q.recording_rules(), frozenset({"*"}))}
    queries = q.dashboard_queries(BOARDS[name])
    assert queries
    problems = []
    for query in queries:
        for metric, labels in q.selectors(query.expr):
            if metric not in known:
                problems.append(f"{query.where}: unknown metric {metric}")
            elif "*" not in known[metric] and labels - known[metric]:
                problems.append(f"{query.where}: {metric} has no label {labels - known[metric]}")
    assert problems == []


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_latency_panels_show_exemplars(name: str) -> None:
    for query in q.dashboard_queries(BOARDS[name]):
        if any(metric.endswith("_bucket") for metric in q.metric_names(query.expr)):
            assert query.exemplar, f"{query.where}: exemplars off on a latency query"


def test_service_dashboard_filters_every_query_on_the_service_variable() -> None:
    dashboard = q.load_dashboard(BOARDS["service-red.json"])
    [variable] = dashboard["templating"]["list"]
    assert variable["name"] == "service" and variable["includeAll"] is True
    assert variable["allValue"] == ".*"
    for query in q.dashboard_queries(BOARDS["service-red.json"]):
        if not query.where.endswith("$service"):
            assert 'service=~"$service"' in query.expr, query.where


def test_overview_has_the_promised_rows() -> None:
    rows = [p["title"] for p in q.load_dashboard(BOARDS["saga-overview.json"])["panels"]]
    rows = [title for title in rows if title in set(ROW_TITLES)]
    assert rows == ROW_TITLES


ROW_TITLES = [
    "Throughput: sagas completed",
    "Outcome ratio",
    "Saga latency",
    "Outbox",
    "Dead letters",
    "Consumers",
    "Deadlines",
]


def provisioned() -> dict[str, dict[str, Any]]:
    config = q.load_yaml(GRAFANA / "provisioning" / "datasources" / "datasources.yaml")
    return {source["uid"]: source for source in config["datasources"]}


def test_datasources_have_the_fixed_uids() -> None:
    sources = provisioned()
    assert {uid: source["type"] for uid, source in sources.items()} == DATASOURCE_UIDS
    assert [uid for uid, source in sources.items() if source.get("isDefault")] == ["prometheus"]


def test_exemplars_link_to_the_trace_in_jaeger() -> None:
    [destination] = provisioned()["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert destination["name"] == "trace_id"
    assert destination["datasourceUid"] == "jaeger"


@pytest.mark.parametrize(
    "line",
    [
        '{"level": "INFO", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f0"}',
        '{"level":"INFO","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f0"}',
    ],
)
def test_a_json_log_line_links_to_its_trace(line: str) -> None:
    [field] = provisioned()["loki"]["jsonData"]["derivedFields"]
    assert field["datasourceUid"] == "jaeger"
    # Grafana expands $VAR in provisioning files: `$$` keeps the `$` of ${__value.raw}.
    assert field["url"] == "$${__value.raw}"
    match = re.search(field["matcherRegex"], line)
    assert match is not None and match[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert re.search(field["matcherRegex"], '{"trace_id": null}') is None


def test_dashboards_are_provisioned_from_files() -> None:
    config = q.load_yaml(GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml")
    [provider] = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
