"""Does Grafana find the saga's dashboards and reach its data sources? Checks on renders.

Grafana's sidecars (k8s-sidecar) are configured by environment variables: LABEL and
LABEL_VALUE (what a ConfigMap must carry), NAMESPACE (ALL or a list; unset: Grafana's
own), FOLDER (where the files go, which says what they are) and FOLDER_ANNOTATION.
Like wiring.py, each check returns the problems it finds.
"""

from __future__ import annotations

from typing import Any

import yaml
from clusterkit import Obj, Pod, listen_port, mounted_config, of_kind, pods, where
from wiring import resolve

Sidecar = tuple[Pod, dict[str, str]]


def sidecars(objs: list[Obj], folder_suffix: str) -> list[Sidecar]:
    """(Grafana pod, settings) of each sidecar writing into a folder ending so."""
    found = []
    for pod in pods(objs):
        for container in pod.spec.get("containers") or []:
            env = {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}
            if "LABEL" in env and env.get("FOLDER", "").endswith(folder_suffix):
                found.append((pod, env))
    return found


def picked_up(sidecar: Sidecar, obj: Obj) -> bool:
    """Does the sidecar load this ConfigMap: its label (and value), in a searched namespace?"""
    pod, env = sidecar
    labels = obj["metadata"].get("labels") or {}
    wanted = env.get("LABEL_VALUE")
    labelled = env["LABEL"] in labels and wanted in (None, labels[env["LABEL"]])
    namespaces = env.get("NAMESPACE", pod.namespace)
    searched = namespaces == "ALL" or obj["metadata"]["namespace"] in namespaces.split(",")
    return labelled and searched


def datasources(objs: list[Obj]) -> list[tuple[Pod, dict[str, Any]]]:
    """(Grafana pod, data source) of each data source its sidecar provisions."""
    found = []
    for sidecar in sidecars(objs, "/datasources"):
        for config_map in of_kind(objs, "ConfigMap"):
            if picked_up(sidecar, config_map):
                for text in (config_map.get("data") or {}).values():
                    loaded = yaml.safe_load(text) or {}
                    found += [(sidecar[0], ds) for ds in loaded.get("datasources", [])]
    return found


def datasource_problems(objs: list[Obj], dashboards: list[dict[str, Any]]) -> list[str]:
    """The data sources reach Prometheus and Jaeger; their uids are those the dashboards use."""
    sources = datasources(objs)
    if not sources:
        return ["Grafana provisions no data source"]
    by_uid = {ds.get("uid"): ds for _, ds in sources}
    problems = []
    for pod, ds in sources:
        if ds["type"] in ("prometheus", "jaeger"):
            problems += backend_problems(objs, pod, ds)
        links = (ds.get("jsonData") or {}).get("exemplarTraceIdDestinations") or []
        if ds["type"] == "prometheus" and not links:
            problems.append(f"data source {ds['name']}: exemplars link to no trace")
        for link in links:
            uid = link.get("datasourceUid")
            if (by_uid.get(uid) or {}).get("type") != "jaeger":
                problems.append(f"data source {ds['name']}: exemplars link to {uid!r}, not Jaeger")
    for dashboard in dashboards:
        for ref in datasource_refs(dashboard):
            known = by_uid.get(ref.get("uid")) or {}
            if ref.get("type", known.get("type")) != known.get("type") or not known:
                problems.append(
                    f"dashboard {dashboard['uid']} uses {ref}, which is not provisioned"
                )
    return sorted(set(problems))


def backend_problems(objs: list[Obj], grafana: Pod, ds: dict[str, Any]) -> list[str]:
    """A Prometheus data source reaches a Prometheus pod, a Jaeger one Jaeger's query port."""
    reached, problems = resolve(objs, ds["url"], grafana.namespace)
    for pod, port in reached:
        if ds["type"] == "prometheus":
            is_prometheus = pod.owner.startswith("Prometheus ")
            served = [p["containerPort"] for p in pod.ports()] if is_prometheus else []
        else:
            extensions = (mounted_config(objs, pod) or {}).get("extensions") or {}
            query = (extensions.get("jaeger_query") or {}).get("http") or {}
            served = [listen_port(query.get("endpoint", ""))]
        if port not in served:
            problems.append(f"reaches port {port} of {pod.owner}, not a {ds['type']} query port")
    return [f"data source {ds['name']} ({ds['url']}): {problem}" for problem in problems]


def datasource_refs(node: Any) -> list[dict[str, Any]]:
    """Every {"type", "uid"} data source reference in a dashboard (Grafana's own excepted)."""
    if isinstance(node, list):
        return [ref for item in node for ref in datasource_refs(item)]
    if not isinstance(node, dict):
        return []
    own = node.get("datasource")
    refs = [own] if isinstance(own, dict) and own.get("uid") not in (None, "-- Grafana --") else []
    return refs + [ref for value in node.values() for ref in datasource_refs(value)]


def dashboard_problems(objs: list[Obj], namespace: str) -> list[str]:
    """Grafana's sidecar loads each dashboard ConfigMap of `namespace`, into a folder."""
    found = [
        c
        for c in of_kind(objs, "ConfigMap", namespace)
        if any(key.endswith(".json") for key in c.get("data") or {})
    ]
    loaders = sidecars(objs, "/dashboards")
    if not found:
        return [f"no dashboard ConfigMap in namespace {namespace}"]
    if not loaders:
        return ["Grafana has no dashboards sidecar"]
    problems = []
    for config_map in found:
        annotations = config_map["metadata"].get("annotations") or {}
        for sidecar in loaders:
            settings = sidecar[1]
            folder = settings.get("FOLDER_ANNOTATION")
            if not picked_up(sidecar, config_map):
                wanted = f"{settings['LABEL']}={settings.get('LABEL_VALUE')}"
                problems.append(f"{where(config_map)} is not picked up (sidecar wants {wanted})")
            elif not folder or not annotations.get(folder):
                problems.append(f"{where(config_map)} has no {folder!r} annotation: no folder")
    return problems
