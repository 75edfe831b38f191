"""The saga and the observability umbrella fit together, read from their renders only.

The checks (wiring.py, grafanawiring.py, netpaths.py) follow every address, port,
label and selector from one chart's rendered objects to the other's:

- the saga's OTLP endpoint -> a collector Service port -> a container port where an
  OTLP receiver of a pipeline listens;
- the collector's exporter -> a Jaeger Service port -> Jaeger's OTLP receiver;
- Prometheus selects the saga's ServiceMonitor and PrometheusRule and the collector's
  ServiceMonitor, which select Services and ports that exist;
- Grafana's data sources reach Prometheus and Jaeger, with the uids the dashboards use;
  its sidecar picks up the saga's dashboard ConfigMaps, into a folder;
- the NetworkPolicies of both releases let exactly those paths through, and the saga's
  namespace lets no other pod in or out (its default deny).

test_observability_breaks.py shows that each check fails on a broken render.
"""

from __future__ import annotations

from typing import Any

import pytest
from chartkit import NAMESPACE as SAGA_NAMESPACE
from chartkit import SERVICES
from clusterkit import backends, find
from netpaths import checks, required_paths
from umbrellakit import NAMESPACE, dashboards

Objs = list[dict[str, Any]]
CHECKS = checks(SAGA_NAMESPACE, NAMESPACE, dashboards())


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_the_wiring_holds(check: str, guarded_objects: Objs, cluster_objects: Objs) -> None:
    assert CHECKS[check](cluster_objects) == []  # as `make deploy` installs it on kind
    assert CHECKS[check](guarded_objects) == []  # with the saga's NetworkPolicies on


def test_the_saga_monitor_scrapes_the_five_services(cluster_objects: Objs) -> None:
    from wiring import monitor_targets

    monitor = find(cluster_objects, "ServiceMonitor", "saga", SAGA_NAMESPACE)
    assert monitor is not None
    targets, problems = monitor_targets(cluster_objects, monitor)
    deployments = {p.owner for service, _ in targets for p in backends(cluster_objects, service)}
    assert problems == []
    assert deployments == {f"Deployment saga/saga-{name}" for name in SERVICES}


def test_the_paths_are_the_telemetry_paths(guarded_objects: Objs) -> None:
    # What the network checks hold the policies to, by kind of path.
    paths = required_paths(guarded_objects, SAGA_NAMESPACE)
    pairs = {
        (why.split(" by ")[0], s.name.split("/")[-1], d.name.split("/")[-1])
        for why, s, d, _ in paths
    }
    saga = {f"saga-{name}" for name in SERVICES}
    assert {("spans", s, "otel-collector") for s in saga} <= pairs
    assert ("spans to Jaeger", "otel-collector", "jaeger") in pairs
    assert ("name lookups", "otel-collector", "kube-dns") in pairs
    prometheus = "kube-prometheus-stack-prometheus"
    assert {("scrape", prometheus, s) for s in saga} <= pairs
    assert ("scrape", prometheus, "otel-collector") in pairs
    grafana = "kube-prometheus-stack-grafana"
    assert {
        ("data source Jaeger", grafana, "jaeger"),
        ("data source Prometheus", grafana, prometheus),
    } <= pairs
