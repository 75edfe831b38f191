"""observability/k8s: the upstream charts' values fit the saga chart and the local setup.

The collector runs the same pipelines as observability/otel-collector/config.yaml; its
address, Jaeger's, the Grafana sidecar's labels and the data source uids are the ones
the saga chart and the dashboards use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import ROOT, SAGA

K8S = ROOT / "observability" / "k8s"
LOCAL_COLLECTOR = ROOT / "observability" / "otel-collector" / "config.yaml"
DASHBOARDS = ROOT / "observability" / "grafana" / "dashboards"


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / name).read_text())
    return loaded


def resolve(node: Any, env: dict[str, str]) -> Any:
    """Expand the collector's ${env:NAME} and ${env:NAME:-default} the way it does."""
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, env) for value in node]
    if isinstance(node, str):
        pattern = r"\$\{env:([A-Z_]+)(?::-([^}]*))?\}"
        return re.sub(pattern, lambda m: env.get(m[1], m[2] or ""), node)
    return node


@pytest.mark.parametrize(
    "name", ["otel-collector.yaml", "jaeger.yaml", "kube-prometheus-stack.yaml"]
)
def test_each_file_says_how_to_install_it(name: str) -> None:
    header = (K8S / name).read_text().split("\n\n")[0]
    assert "helm upgrade --install" in header
    assert "-n observability" in header


def test_collector_runs_the_local_pipelines() -> None:
    local = resolve(yaml.safe_load(LOCAL_COLLECTOR.read_text()), {})
    cluster = resolve(load("otel-collector.yaml")["alternateConfig"], {"MY_POD_IP": "0.0.0.0"})
    local["exporters"]["otlp/jaeger"].pop("endpoint")
    jaeger = cluster["exporters"]["otlp/jaeger"].pop("endpoint")
    assert cluster == local
    assert jaeger == f"{load('jaeger.yaml')['fullnameOverride']}-collector.observability.svc:4317"


def test_collector_is_where_the_saga_sends_its_spans() -> None:
    values = load("otel-collector.yaml")
    saga = yaml.safe_load((SAGA / "values.yaml").read_text())
    assert values["mode"] == "deployment"
    assert "contrib" in values["image"]["repository"]
    assert saga["otel"]["endpoint"] == f"http://{values['fullnameOverride']}.observability:4318"
    assert values["ports"]["otlp-http"]["enabled"] is True
    # The saga's NetworkPolicy egress names the collector's pods by the chart's name label.
    (peer,) = saga["networkPolicy"]["collector"]["peers"]
    assert peer["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "opentelemetry-collector"
    }
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "observability"
    }


def test_span_metrics_are_scraped_with_their_own_labels() -> None:
    values = load("otel-collector.yaml")
    port = values["ports"]["spanmetrics"]
    assert port["enabled"] and port["containerPort"] == 8889
    (endpoint,) = values["serviceMonitor"]["metricsEndpoints"]
    assert endpoint == {"port": "spanmetrics", "interval": "15s", "honorLabels": True}


def test_jaeger_is_one_all_in_one_pod_in_memory() -> None:
    values = load("jaeger.yaml")
    assert values["allInOne"]["enabled"] is True
    assert values["storage"]["type"] == "memory"
    assert not any(values["provisionDataStore"].values())
    assert not any(values[part]["enabled"] for part in ("agent", "collector", "query"))


def datasource_uids(dashboard: Path) -> set[str]:
    text = json.loads(dashboard.read_text())
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("datasource"), dict) and "uid" in node["datasource"]:
                found.add(node["datasource"]["uid"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(text)
    return found - {"-- Grafana --"}


def test_grafana_loads_the_saga_dashboards_with_their_data_sources() -> None:
    grafana = load("kube-prometheus-stack.yaml")["grafana"]
    saga = yaml.safe_load((SAGA / "values.yaml").read_text())["dashboards"]
    dashboards = grafana["sidecar"]["dashboards"]
    assert (dashboards["label"], dashboards["labelValue"]) == (saga["label"], saga["labelValue"])
    assert dashboards["searchNamespace"] == "ALL"
    assert dashboards["folderAnnotation"] == saga["folderAnnotation"]
    datasources = grafana["sidecar"]["datasources"]
    uids = {datasources["uid"]} | {source["uid"] for source in grafana["additionalDataSources"]}
    used = set().union(*(datasource_uids(path) for path in DASHBOARDS.glob("*.json")))
    assert used <= uids, f"the dashboards use {used}"
    assert datasources["exemplarTraceIdDestinations"] == {
        "datasourceUid": "jaeger",
        "traceIdLabelName": "trace_id",
    }
    (jaeger,) = grafana["additionalDataSources"]
    assert (jaeger["type"], jaeger["uid"]) == ("jaeger", "jaeger")
    name = load("jaeger.yaml")["fullnameOverride"]
    assert jaeger["url"] == f"http://{name}-query.observability.svc:16686"


def test_prometheus_keeps_exemplars_and_selects_every_release() -> None:
    spec = load("kube-prometheus-stack.yaml")["prometheus"]["prometheusSpec"]
    assert "exemplar-storage" in spec["enableFeatures"]
    for selector in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{selector}SelectorNilUsesHelmValues"] is False
    # The saga's NetworkPolicies let Prometheus' pods in from this namespace.
    saga = yaml.safe_load((SAGA / "values.yaml").read_text())["networkPolicy"]
    scraper = saga["httpClients"][1]
    assert scraper["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "observability"
    }
    assert scraper["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
