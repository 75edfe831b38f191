"""Do the saga chart and the observability umbrella fit together? Traces and scrapes.

Each check takes both releases' objects as they would sit in one cluster
(clusterkit.placed) and returns the problems it finds, one sentence each: the tests
assert there are none, and that a deliberately broken render has some. Grafana's side
is in grafanawiring.py, the NetworkPolicies' in netpaths.py.
"""

from __future__ import annotations

from typing import Any

from clusterkit import (
    Obj,
    Pod,
    backends,
    container_port,
    mounted_config,
    of_kind,
    otlp_listen_ports,
    pipeline_components,
    pods,
    service_at,
    split_address,
    where,
)
from netpol import namespace_matches, selector_matches

# The OTel SDK's protocol when OTEL_EXPORTER_OTLP_PROTOCOL is unset.
DEFAULT_OTLP_PROTOCOL = "http/protobuf"
Reached = list[tuple[Pod, int]]


def resolve(objs: list[Obj], address: str, client_namespace: str) -> tuple[Reached, list[str]]:
    """The (pod, container port) pairs an address reaches, and why it reaches no more."""
    split = split_address(address)
    if split is None:
        return [], [f"{address!r} has no host:port"]
    host, port = split
    service = service_at(objs, host, client_namespace)
    if service is None:
        return [], [f"{address}: no Service {host} is rendered"]
    matching = [p for p in service["spec"]["ports"] if p["port"] == port]
    if not matching:
        listed = sorted(p["port"] for p in service["spec"]["ports"])
        return [], [f"{address}: {where(service)} has no port {port} (only {listed})"]
    reached = [(pod, container_port(matching[0], pod)) for pod in backends(objs, service)]
    if not reached:
        return [], [f"{address}: {where(service)} selects no pod"]
    target = matching[0].get("targetPort")
    missing = [f"{address}: {pod.owner} has no port {target}" for pod, n in reached if n is None]
    return [(pod, n) for pod, n in reached if n is not None], missing


def otlp_reached(
    objs: list[Obj], address: str, namespace: str, transport: str
) -> tuple[Reached, list[str]]:
    """Where `address` leads, and the problems if that is not an OTLP receiver's port."""
    reached, problems = resolve(objs, address, namespace)
    for pod, port in reached:
        config = mounted_config(objs, pod)
        listening = otlp_listen_ports(config, transport) if config else set()
        if port not in listening:
            problems.append(
                f"{address} reaches port {port} of {pod.owner}, where no OTLP {transport} "
                f"receiver of a pipeline listens (its OTLP {transport} ports: {sorted(listening)})"
            )
    return reached, problems


def otlp_clients(objs: list[Obj], namespace: str) -> list[tuple[Obj, str, str]]:
    """(ConfigMap, endpoint, transport) of each ConfigMap in `namespace` setting an endpoint."""
    found = []
    for config_map in of_kind(objs, "ConfigMap", namespace):
        data = config_map.get("data") or {}
        if data.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            protocol = data.get("OTEL_EXPORTER_OTLP_PROTOCOL", DEFAULT_OTLP_PROTOCOL)
            transport = "grpc" if protocol == "grpc" else "http"
            found.append((config_map, data["OTEL_EXPORTER_OTLP_ENDPOINT"], transport))
    return found


def services_to_collector(objs: list[Obj], namespace: str) -> list[str]:
    """The saga's OTLP endpoint leads to the OTLP receiver of a collector (a pod exporting on)."""
    clients = otlp_clients(objs, namespace)
    if not clients:
        return [f"no ConfigMap in namespace {namespace} sets OTEL_EXPORTER_OTLP_ENDPOINT"]
    collectors = {pod.owner for pod, *_ in trace_exporters(objs)}
    problems = []
    for config_map, address, transport in clients:
        reached, found = otlp_reached(objs, address, namespace, transport)
        found += [
            f"{address} reaches {p.owner}, no collector"
            for p, _ in reached
            if p.owner not in collectors
        ]
        problems += [f"{where(config_map)}: {problem}" for problem in found]
    return problems


def trace_exporters(objs: list[Obj]) -> list[tuple[Pod, str, str, str]]:
    """(pod, exporter, endpoint, transport) of each OTLP exporter in a pipeline of a pod."""
    found = []
    for pod in pods(objs):
        config = mounted_config(objs, pod) or {}
        for name, exporter in pipeline_components(config, "exporters").items():
            kind = name.split("/")[0]
            if kind in ("otlp", "otlphttp") and exporter.get("endpoint"):
                transport = "grpc" if kind == "otlp" else "http"
                found.append((pod, name, exporter["endpoint"], transport))
    return found


def collector_to_jaeger(objs: list[Obj]) -> list[str]:
    """The collector's OTLP exporter reaches a port where Jaeger's OTLP receiver listens."""
    exporters = trace_exporters(objs)
    if not exporters:
        return ["no pod's pipeline exports traces over OTLP"]
    problems = []
    for pod, name, address, transport in exporters:
        reached, found = otlp_reached(objs, address, pod.namespace, transport)
        found += [
            f"{address} reaches {p.owner}, which stores no traces"
            for p, _ in reached
            if not stores_traces(objs, p)
        ]
        problems += [f"{pod.owner}, exporter {name}: {problem}" for problem in found]
    return problems


def stores_traces(objs: list[Obj], pod: Pod) -> bool:
    """Is this Jaeger v2 (a pipeline exporting to its storage), not another collector?"""
    config = mounted_config(objs, pod) or {}
    exporters = pipeline_components(config, "exporters")
    return any(name.split("/")[0] == "jaeger_storage_exporter" for name in exporters)


def selects(prometheus: Obj, obj: Obj, what: str) -> bool:
    """Does a Prometheus object pick up this ServiceMonitor (what="serviceMonitor") or rule?

    A missing namespace selector means the Prometheus' own namespace only; a missing
    object selector selects nothing (the Prometheus Operator's API documentation).
    """
    spec = prometheus["spec"]
    own = prometheus["metadata"]["namespace"]
    namespace = obj["metadata"]["namespace"]
    in_namespace = (
        namespace == own
        if spec.get(f"{what}NamespaceSelector") is None
        else namespace_matches(spec[f"{what}NamespaceSelector"], namespace)
    )
    selector = spec.get(f"{what}Selector")
    labels = obj["metadata"].get("labels") or {}
    return in_namespace and selector is not None and selector_matches(selector, labels)


def monitor_targets(objs: list[Obj], monitor: Obj) -> tuple[list[tuple[Obj, Any]], list[str]]:
    """The (Service, port) pairs a ServiceMonitor scrapes, and why it scrapes no more."""
    spec = monitor["spec"]
    chosen = spec.get("namespaceSelector") or {}
    services = [
        s
        for s in of_kind(objs, "Service")
        if (
            chosen.get("any")
            or s["metadata"]["namespace"]
            in chosen.get("matchNames", [monitor["metadata"]["namespace"]])
        )
        and selector_matches(spec["selector"], s["metadata"].get("labels") or {})
    ]
    if not services:
        return [], [f"{where(monitor)} selects no Service"]
    targets, problems = [], []
    for service in services:
        names = {p.get("name"): p for p in service["spec"]["ports"]}
        for endpoint in spec["endpoints"]:
            if endpoint.get("port") in names:
                targets.append((service, names[endpoint["port"]]))
            else:
                problems.append(
                    f"{where(monitor)}: {where(service)} has no port named {endpoint.get('port')!r}"
                )
    return targets, problems


def prometheus_selection(objs: list[Obj], namespace: str) -> list[str]:
    """The saga has monitors; Prometheus loads them all; each scrapes ports that exist."""
    servers = of_kind(objs, "Prometheus")
    if not servers:
        return ["no Prometheus object is rendered"]
    problems = [
        f"namespace {namespace} has no {kind} (monitoring is off)"
        for kind in ("ServiceMonitor", "PrometheusRule")
        if not of_kind(objs, kind, namespace)
    ]
    for kind, what in (("ServiceMonitor", "serviceMonitor"), ("PrometheusRule", "rule")):
        for obj in of_kind(objs, kind):
            if not any(selects(server, obj, what) for server in servers):
                labels = obj["metadata"].get("labels") or {}
                wanted = [s["spec"].get(f"{what}Selector") for s in servers]
                problems.append(
                    f"{where(obj)} (labels {labels}) is selected by no Prometheus ({wanted})"
                )
    for monitor in of_kind(objs, "ServiceMonitor"):
        problems += monitor_targets(objs, monitor)[1]
    return problems
