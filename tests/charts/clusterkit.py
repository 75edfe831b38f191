"""Two releases' rendered objects seen as one cluster: pods, Services, addresses, configs.

Everything is read from the objects: a Service is found by its DNS name, its pods by
its selector, a port by following targetPort to the container, a program's settings
from the ConfigMap its --config file is mounted from. The one thing no chart renders is
the Prometheus server's pod, which the Prometheus Operator creates from the Prometheus
object (prometheus_pod).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml
from netpol import Endpoint, endpoint, selector_matches

Obj = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
DNS_TAILS = ((), ("svc",), ("svc", "cluster", "local"))


def placed(objects: list[Obj], namespace: str) -> list[Obj]:
    """Copies of a release's objects, each with its namespace (Helm leaves most unset)."""
    out = copy.deepcopy(objects)
    for obj in out:
        obj["metadata"].setdefault("namespace", namespace)
    return out


def of_kind(objs: list[Obj], kind: str, namespace: str | None = None) -> list[Obj]:
    return [
        o for o in objs if o["kind"] == kind and namespace in (None, o["metadata"]["namespace"])
    ]


def find(objs: list[Obj], kind: str, name: str, namespace: str) -> Obj | None:
    found = [o for o in of_kind(objs, kind, namespace) if o["metadata"]["name"] == name]
    return found[0] if found else None


def where(obj: Obj) -> str:
    return f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"


@dataclass
class Pod:
    """The pods a workload (or the Prometheus Operator) creates: labels and spec."""

    owner: str
    namespace: str
    labels: dict[str, str]
    spec: dict[str, Any]

    def ports(self) -> list[dict[str, Any]]:
        return [p for c in self.spec.get("containers") or [] for p in c.get("ports") or []]

    def as_endpoint(self) -> Endpoint:
        found = [
            (p["containerPort"], p.get("protocol", "TCP"), p.get("name", "")) for p in self.ports()
        ]
        return endpoint(self.owner, self.namespace, self.labels, *found)


def prometheus_pod(prometheus: Obj) -> Pod:
    """The pod the Prometheus Operator (v0.93) runs for a Prometheus object.

    Labels: makeSelectorLabels in pkg/prometheus/server/operator.go (plus the shard label,
    statefulset.go) and BuildPodMetadata in pkg/prometheus/promcfg.go (the object's
    podMetadata.labels). Port: MakeContainerPorts in pkg/prometheus/common.go (9090, named
    spec.portName, default "web").
    """
    name, spec = prometheus["metadata"]["name"], prometheus["spec"]
    labels = dict((spec.get("podMetadata") or {}).get("labels") or {})
    labels.update(
        {
            "app.kubernetes.io/managed-by": "prometheus-operator",
            "app.kubernetes.io/name": "prometheus",
            "app.kubernetes.io/instance": name,
            "operator.prometheus.io/name": name,
            "prometheus": name,
            "operator.prometheus.io/shard": "0",
        }
    )
    port = {"name": spec.get("portName") or "web", "containerPort": 9090, "protocol": "TCP"}
    container = {"name": "prometheus", "ports": [port]}
    owner = f"Prometheus {prometheus['metadata']['namespace']}/{name}"
    return Pod(owner, prometheus["metadata"]["namespace"], labels, {"containers": [container]})


def pods(objs: list[Obj]) -> list[Pod]:
    found = [
        Pod(
            where(o),
            o["metadata"]["namespace"],
            dict(o["spec"]["template"]["metadata"].get("labels") or {}),
            o["spec"]["template"]["spec"],
        )
        for o in objs
        if o["kind"] in WORKLOADS
    ]
    return found + [prometheus_pod(p) for p in of_kind(objs, "Prometheus")]


def service_at(objs: list[Obj], host: str, client_namespace: str) -> Obj | None:
    """The Service a DNS name resolves to: name, name.ns, name.ns.svc[.cluster.local]."""
    name, *rest = host.split(".")
    namespace = rest[0] if rest else client_namespace
    if tuple(rest[1:]) not in DNS_TAILS:
        return None
    return find(objs, "Service", name, namespace)


def backends(objs: list[Obj], service: Obj) -> list[Pod]:
    """The pods a Service sends its traffic to."""
    selector = service["spec"].get("selector") or {}
    namespace = service["metadata"]["namespace"]
    return [
        p
        for p in pods(objs)
        if selector
        and p.namespace == namespace
        and selector_matches({"matchLabels": selector}, p.labels)
    ]


def container_port(service_port: dict[str, Any], pod: Pod) -> int | None:
    """The pod's port a Service port leads to (targetPort by number or by name)."""
    target = service_port.get("targetPort", service_port["port"])
    if isinstance(target, int):
        return target
    named = [p["containerPort"] for p in pod.ports() if p.get("name") == target]
    return named[0] if named else None


def split_address(address: str) -> tuple[str, int] | None:
    """(host, port) of host:port or scheme://host:port/path; None without a port."""
    match = re.fullmatch(r"(?:[a-z]+://)?([^/:]+):(\d+)(?:/.*)?", address.strip())
    return (match[1], int(match[2])) if match else None


def listen_port(endpoint_setting: str) -> int | None:
    """The port of a listener setting such as 0.0.0.0:4317 or ${env:MY_POD_IP}:4317."""
    head, _, port = endpoint_setting.rpartition(":")
    return int(port) if head and port.isdigit() else None


def mounted_config(objs: list[Obj], pod: Pod) -> dict[str, Any] | None:
    """The YAML file a container of the pod reads with --config, from its ConfigMap."""
    for container in pod.spec.get("containers") or []:
        args = " ".join(container.get("args") or [])
        match = re.search(r"--config[= ](\S+)", args)
        if not match:
            continue
        text = _file_from_config_map(objs, pod, container, match[1])
        return yaml.safe_load(text) if text is not None else None
    return None


def _file_from_config_map(objs: list[Obj], pod: Pod, container: Obj, path: str) -> str | None:
    volumes = {v["name"]: v for v in pod.spec.get("volumes") or [] if "configMap" in v}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            continue
        if mount.get("subPath") and mount["mountPath"] == path:
            key = mount["subPath"]
        elif path.startswith(mount["mountPath"].rstrip("/") + "/") and not mount.get("subPath"):
            relative = path[len(mount["mountPath"].rstrip("/")) + 1 :]
            items = volume["configMap"].get("items") or []
            key = next((i["key"] for i in items if i["path"] == relative), relative)
        else:
            continue
        config_map = find(objs, "ConfigMap", volume["configMap"]["name"], pod.namespace)
        return None if config_map is None else config_map.get("data", {}).get(key)
    return None


def pipeline_components(config: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    """The receivers or exporters of a collector config that some pipeline uses."""
    used = {
        component
        for pipeline in (config.get("service", {}).get("pipelines") or {}).values()
        for component in pipeline.get(section, [])
    }
    return {name: (config.get(section) or {}).get(name) or {} for name in sorted(used)}


def otlp_listen_ports(config: dict[str, Any], transport: str) -> set[int]:
    """Ports an OTLP receiver in a pipeline listens on for `transport` (grpc or http)."""
    ports = set()
    for name, receiver in pipeline_components(config, "receivers").items():
        protocol = (receiver.get("protocols") or {}).get(transport)
        if name.split("/")[0] == "otlp" and protocol and protocol.get("endpoint"):
            ports.add(listen_port(protocol["endpoint"]))
    return {p for p in ports if p is not None}
