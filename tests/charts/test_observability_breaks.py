"""Each wiring check finds the break in a deliberately broken render, and says what it is.

The first cases are issue 8's two defects: the collector exporting to jaeger-collector
and Grafana reading jaeger-query (Services jaeger 4.x no longer renders), and a saga
deployed without monitoring, or with monitors Prometheus does not select. The others
rename a Service, move a port or drop a label on either side.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
import yaml
from chartkit import NAMESPACE as SAGA_NAMESPACE
from chartkit import SAGA, deep_merge
from clusterkit import placed
from netpaths import checks
from umbrellakit import NAMESPACE, POLICIES, dashboards, observed_values, render_umbrella, values

Edit = Callable[[dict[str, Any]], Any]
CHECKS = checks(SAGA_NAMESPACE, NAMESPACE, dashboards())


def at(path: tuple[Any, ...], value: Any) -> Edit:
    """Set the value at a path of keys and list indices."""

    def edit(tree: dict[str, Any]) -> None:
        node: Any = tree
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def without(path: tuple[Any, ...]) -> Edit:
    """Delete the key or list item at a path."""

    def edit(tree: dict[str, Any]) -> None:
        node: Any = tree
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


def monitoring_off(tree: dict[str, Any]) -> None:
    """values/kind.yaml alone, as `make deploy` installed the saga before."""
    tree["serviceMonitor"]["enabled"] = tree["prometheusRule"]["enabled"] = False


@dataclass(frozen=True)
class Break:
    name: str
    check: str
    says: str  # part of the problem the check must report
    saga: Edit | None = None  # an edit of the saga's values (values.yaml + kind + observed)
    stack: Edit | None = None  # an edit of the umbrella's values.yaml


OTEL = ("opentelemetry-collector",)
CONFIG = (*OTEL, "alternateConfig")
NETPOL = (*OTEL, "networkPolicy")
GRAFANA = ("kube-prometheus-stack", "grafana")
SOURCES = (*GRAFANA, "sidecar", "datasources")
JAEGER_QUERY = {"name": "Jaeger", "type": "jaeger", "uid": "jaeger", "access": "proxy"}
# What the project's values named before jaeger 4 (Jaeger v2) made it one Service, `jaeger`.
OLD_JAEGER_COLLECTOR = "jaeger-collector.observability.svc:4317"
OLD_JAEGER_QUERY = "http://jaeger-query.observability.svc:16686"
SELECTED = "selected by no Prometheus"
BREAKS = [
    Break(
        "defect 1: the collector exports to jaeger-collector",
        "collector -> jaeger",
        "no Service jaeger-collector",
        stack=at((*CONFIG, "exporters", "otlp/jaeger", "endpoint"), OLD_JAEGER_COLLECTOR),
    ),
    Break(
        "defect 1: Grafana reads jaeger-query",
        "grafana data sources",
        "no Service jaeger-query",
        stack=at((*GRAFANA, "additionalDataSources"), [{**JAEGER_QUERY, "url": OLD_JAEGER_QUERY}]),
    ),
    Break(
        "defect 2: the saga without monitoring",
        "prometheus selects the monitors",
        "has no ServiceMonitor",
        saga=monitoring_off,
    ),
    Break(
        "defect 2: the ServiceMonitor without the release label",
        "prometheus selects the monitors",
        SELECTED,
        saga=at(("serviceMonitor", "labels"), {}),
    ),
    Break(
        "defect 2: the PrometheusRule without the release label",
        "prometheus selects the monitors",
        SELECTED,
        saga=at(("prometheusRule", "labels"), {}),
    ),
    Break(
        "defect 2: monitors labelled for another release",
        "prometheus selects the monitors",
        SELECTED,
        saga=at(("serviceMonitor", "labels", "release"), "kube-prometheus-stack"),
    ),
    Break(
        "Prometheus selects rules by another label",
        "prometheus selects the monitors",
        SELECTED,
        stack=at(
            ("kube-prometheus-stack", "prometheus", "prometheusSpec", "ruleSelector"),
            {"matchLabels": {"team": "saga"}},
        ),
    ),
    Break(
        "the collector's Service renamed",
        "services -> collector",
        "no Service otel-collector",
        stack=at((*OTEL, "fullnameOverride"), "collector"),
    ),
    Break(
        "the collector's OTLP/HTTP Service port moved",
        "services -> collector",
        "has no port 4318",
        stack=at((*OTEL, "ports", "otlp-http"), {"servicePort": 4319}),
    ),
    Break(
        "the collector's OTLP/HTTP receiver moved",
        "services -> collector",
        "no OTLP http receiver",
        stack=at(
            (*CONFIG, "receivers", "otlp", "protocols", "http", "endpoint"), "${env:MY_POD_IP}:4319"
        ),
    ),
    Break(
        "the saga sends OTLP/HTTP to the gRPC port",
        "services -> collector",
        "no OTLP http receiver",
        saga=at(("otel", "endpoint"), "http://otel-collector.observability:4317"),
    ),
    Break(
        "the collector exports to itself",
        "collector -> jaeger",
        "which stores no traces",
        stack=at((*CONFIG, "exporters", "otlp/jaeger", "endpoint"), "otel-collector:4317"),
    ),
    Break(
        "the saga sends its spans to Jaeger, past the collector",
        "services -> collector",
        "no collector",
        saga=at(("otel", "endpoint"), "http://jaeger.observability:4318"),
    ),
    Break(
        "Jaeger's Service renamed",
        "collector -> jaeger",
        "no Service jaeger",
        stack=at(("jaeger", "fullnameOverride"), "tracing"),
    ),
    Break(
        "Jaeger's OTLP receiver moved",
        "collector -> jaeger",
        "no OTLP grpc receiver",
        stack=at(
            ("jaeger", "userconfig", "receivers", "otlp", "protocols", "grpc", "endpoint"),
            "0.0.0.0:4327",
        ),
    ),
    Break(
        "Jaeger's query port moved",
        "grafana data sources",
        "not a jaeger query port",
        stack=at(
            ("jaeger", "userconfig", "extensions", "jaeger_query", "http", "endpoint"),
            "0.0.0.0:16687",
        ),
    ),
    Break(
        "the collector's monitor scrapes a port it lacks",
        "prometheus selects the monitors",
        "no port named 'metrics'",
        stack=at((*OTEL, "serviceMonitor", "metricsEndpoints", 0, "port"), "metrics"),
    ),
    Break(
        "the Prometheus data source's uid changed",
        "grafana data sources",
        "which is not provisioned",
        stack=at((*SOURCES, "uid"), "prom"),
    ),
    Break(
        "exemplars link to another uid",
        "grafana data sources",
        "not Jaeger",
        stack=at((*SOURCES, "exemplarTraceIdDestinations", "datasourceUid"), "tempo"),
    ),
    Break(
        "exemplars link nowhere",
        "grafana data sources",
        "exemplars link to no trace",
        stack=at((*SOURCES, "exemplarTraceIdDestinations"), None),  # null: back to the default
    ),
    Break(
        "dashboards labelled for another sidecar",
        "grafana dashboards",
        "is not picked up",
        saga=at(("dashboards", "label"), "grafana_dashboards"),
    ),
    Break(
        "the sidecar reads another folder annotation",
        "grafana dashboards",
        "annotation: no folder",
        stack=at((*GRAFANA, "sidecar", "dashboards", "folderAnnotation"), "folder"),
    ),
    Break(
        "the saga's egress names the collector by another label",
        "network paths open",
        "spans: Deployment saga/saga-booking -> Deployment observability/otel-collector",
        saga=at(
            ("networkPolicy", "collector", "peers", 0, "podSelector", "matchLabels"),
            {"app.kubernetes.io/name": "otel-collector"},
        ),
    ),
    Break(
        "the saga's ingress names Prometheus by an old label",
        "network paths open",
        "scrape by ServiceMonitor saga/saga",
        saga=at(
            ("networkPolicy", "httpClients", 1, "podSelector", "matchLabels"), {"app": "prometheus"}
        ),
    ),
    Break(
        "the collector may not reach Jaeger's OTLP port",
        "network paths open",
        "spans to Jaeger",
        stack=at((*NETPOL, "egressRules", 1, "ports", 0, "port"), 4318),
    ),
    Break(
        "the collector may not resolve names",
        "network paths open",
        "name lookups",
        stack=without((*NETPOL, "egressRules", 0)),
    ),
    Break(
        "the collector takes spans from another namespace",
        "network paths open",
        "spans: ",
        stack=at(
            (
                *NETPOL,
                "allowIngressFrom",
                0,
                "namespaceSelector",
                "matchLabels",
                "kubernetes.io/metadata.name",
            ),
            "saga-prod",
        ),
    ),
    Break(
        "Jaeger lets Grafana in no more",
        "network paths open",
        "data source Jaeger",
        stack=without(("jaeger", "extraObjects", 0, "spec", "ingress", 1)),
    ),
    Break(
        "the saga's namespace is left open",
        "saga namespace closed",
        "stranger in saga -> ",
        saga=at(("networkPolicy", "defaultDeny"), False),
    ),
    Break(
        "the collector takes anyone's traffic",
        "no other network path",
        "stranger in default -> Deployment observability/otel-collector",
        stack=at((*NETPOL, "allowIngressFrom"), [{"namespaceSelector": {}}]),
    ),
]


@pytest.mark.parametrize("broken", BREAKS, ids=[b.name for b in BREAKS])
def test_each_check_finds_its_break(
    helm: ModuleType, render_values: Callable[..., Any], guarded: Any, stack: Any, broken: Break
) -> None:
    saga, umbrella = guarded, stack
    if broken.saga:
        # On top of the chart's values.yaml, so that an edit can change one item of a list.
        given = yaml.safe_load((SAGA / "values.yaml").read_text())
        given = deep_merge(given, deep_merge(observed_values(), POLICIES))
        broken.saga(given)
        saga = render_values(given)
    if broken.stack:
        given = copy.deepcopy(values())
        broken.stack(given)
        umbrella = render_umbrella(helm, given)
    objs = placed(saga.objects, SAGA_NAMESPACE) + placed(umbrella.objects, NAMESPACE)
    found = CHECKS[broken.check](objs)
    assert any(broken.says in problem for problem in found), found
