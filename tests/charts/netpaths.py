"""Do both releases' NetworkPolicies let the telemetry through, and only it? Checks.

The paths that must be open are derived from the other checks' resolutions (where the
OTLP endpoints, the scrapes and Grafana's data sources lead); the policies are then
evaluated over every rendered pod, the Prometheus pod, the cluster DNS and strangers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clusterkit import Obj, Pod, backends, container_port, of_kind, pods, where
from grafanawiring import dashboard_problems, datasource_problems, datasources
from netpol import Endpoint, Port, endpoint, policy_types, reachable, selector_matches
from wiring import (
    collector_to_jaeger,
    monitor_targets,
    otlp_clients,
    otlp_reached,
    prometheus_selection,
    resolve,
    selects,
    services_to_collector,
    trace_exporters,
)

# The cluster's DNS as kind (and most clusters) label it; no chart renders it.
KUBE_DNS = endpoint(
    "kube-dns", "kube-system", {"k8s-app": "kube-dns"}, (53, "UDP", "dns"), (53, "TCP", "dns-tcp")
)
Path = tuple[str, Endpoint, Endpoint, Port]


def port_of(pod: Pod, number: int) -> Port:
    declared = [p for p in pod.ports() if p["containerPort"] == number]
    first = declared[0] if declared else {}
    return (number, first.get("protocol", "TCP"), first.get("name", ""))


def _paths(source: Pod, reached: list[tuple[Pod, int]], why: str) -> list[Path]:
    return [(why, source.as_endpoint(), pod.as_endpoint(), port_of(pod, n)) for pod, n in reached]


def pods_reading(objs: list[Obj], config_map: Obj) -> list[Pod]:
    """The pods whose containers take their environment from this ConfigMap."""
    name = config_map["metadata"]["name"]
    return [
        pod
        for pod in pods(objs)
        if pod.namespace == config_map["metadata"]["namespace"]
        and any(
            (source.get("configMapRef") or {}).get("name") == name
            for container in pod.spec.get("containers") or []
            for source in container.get("envFrom") or []
        )
    ]


def span_paths(objs: list[Obj], namespace: str) -> list[Path]:
    """The saga's pods -> the collector -> Jaeger, and the collector's name lookups."""
    paths: list[Path] = []
    for config_map, address, transport in otlp_clients(objs, namespace):
        reached, _ = otlp_reached(objs, address, namespace, transport)
        for client in pods_reading(objs, config_map):
            paths += _paths(client, reached, "spans")
    for pod, _, address, transport in trace_exporters(objs):
        reached, _ = otlp_reached(objs, address, pod.namespace, transport)
        paths += _paths(pod, reached, "spans to Jaeger")
        paths.append(("name lookups", pod.as_endpoint(), KUBE_DNS, (53, "UDP", "dns")))
    return paths


def scrape_paths(objs: list[Obj]) -> list[Path]:
    """Each Prometheus -> the pods behind the Services of the ServiceMonitors it selects."""
    paths: list[Path] = []
    for server in of_kind(objs, "Prometheus"):
        scraper = next(p for p in pods(objs) if p.owner == where(server))
        for monitor in of_kind(objs, "ServiceMonitor"):
            if not selects(server, monitor, "serviceMonitor"):
                continue
            for service, port in monitor_targets(objs, monitor)[0]:
                reached = [(pod, container_port(port, pod)) for pod in backends(objs, service)]
                known = [(pod, n) for pod, n in reached if n is not None]
                paths += _paths(scraper, known, f"scrape by {where(monitor)}")
    return paths


def required_paths(objs: list[Obj], namespace: str) -> list[Path]:
    """Spans, scrapes, and Grafana -> its data sources: what the policies must let through."""
    paths = span_paths(objs, namespace) + scrape_paths(objs)
    for grafana, ds in datasources(objs):
        reached, _ = resolve(objs, ds["url"], grafana.namespace)
        paths += _paths(grafana, reached, f"data source {ds['name']}")
    return paths


def surroundings(objs: list[Obj]) -> list[Endpoint]:
    """Every pod of the renders, the DNS, and a stranger in each namespace and in default."""
    namespaces = {o["metadata"]["namespace"] for o in objs} | {"default"}
    strangers = [
        endpoint(f"stranger in {ns}", ns, {"app": "stranger"}, (8080, "TCP", "http"))
        for ns in sorted(namespaces)
    ]
    return [pod.as_endpoint() for pod in pods(objs)] + [KUBE_DNS, *strangers]


def path_problems(objs: list[Obj], namespace: str) -> list[str]:
    """Every path the wiring needs is open through both ends' NetworkPolicies."""
    policies = of_kind(objs, "NetworkPolicy")
    return [
        f"{why}: {source.name} -> {destination.name} port {port[0]}/{port[1]} is denied"
        for why, source, destination, port in required_paths(objs, namespace)
        if not reachable(policies, source, destination, port)
    ]


def extra_paths(objs: list[Obj], namespace: str, saga_namespace: str) -> list[str]:
    """The policies of `namespace` open nothing but the needed paths (pod to pod, any port).

    Only pairs a policy of `namespace` governs count: the saga's own policies are held to
    their table by test_network_policies.py.
    """
    policies = of_kind(objs, "NetworkPolicy")
    needed = {(s.name, d.name) for _, s, d, _ in required_paths(objs, saga_namespace)}
    everyone = surroundings(objs)
    problems = set()
    for source in everyone:
        for destination in everyone:
            pair = (source.name, destination.name)
            if source == destination or pair in needed:
                continue
            if _governs(policies, namespace, source, destination) and any(
                reachable(policies, source, destination, port) for port in destination.ports
            ):
                problems.add(f"{source.name} -> {destination.name} is allowed but not needed")
    return sorted(problems)


def _governs(policies: list[Obj], namespace: str, source: Endpoint, destination: Endpoint) -> bool:
    """Does a policy of `namespace` select the destination's ingress or the source's egress?"""
    for policy in policies:
        spec = policy["spec"]
        if policy["metadata"]["namespace"] != namespace:
            continue
        for end, direction in ((destination, "Ingress"), (source, "Egress")):
            selected = selector_matches(spec["podSelector"], end.label_map)
            if end.namespace == namespace and direction in policy_types(spec) and selected:
                return True
    return False


def closed_namespace(objs: list[Obj], namespace: str) -> list[str]:
    """No pod of another app in `namespace` talks to anything, either way (default deny)."""
    policies = of_kind(objs, "NetworkPolicy")
    stranger = endpoint(
        f"stranger in {namespace}", namespace, {"app": "stranger"}, (8080, "TCP", "h")
    )
    problems = []
    for other in surroundings(objs):
        if other.name == stranger.name:
            continue
        for source, destination in ((stranger, other), (other, stranger)):
            if any(reachable(policies, source, destination, port) for port in destination.ports):
                problems.append(f"{source.name} -> {destination.name}: {namespace} is not closed")
    return sorted(problems)


Check = Callable[[list[Obj]], list[str]]


def checks(saga: str, observability: str, dashboards: list[dict[str, Any]]) -> dict[str, Check]:
    """Every wiring check by name, for the saga in `saga` and the umbrella in `observability`."""
    return {
        "services -> collector": lambda objs: services_to_collector(objs, saga),
        "collector -> jaeger": collector_to_jaeger,
        "prometheus selects the monitors": lambda objs: prometheus_selection(objs, saga),
        "grafana data sources": lambda objs: datasource_problems(objs, dashboards),
        "grafana dashboards": lambda objs: dashboard_problems(objs, saga),
        "network paths open": lambda objs: path_problems(objs, saga),
        "no other network path": lambda objs: extra_paths(objs, observability, saga),
        "saga namespace closed": lambda objs: closed_namespace(objs, saga),
    }
