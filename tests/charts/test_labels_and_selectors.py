"""Every object carries the recommended labels, and every selector selects what it should."""

from __future__ import annotations

from typing import Any

from chartkit import SERVICES

RECOMMENDED = {
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def workloads(render: Any) -> dict[str, dict[str, str]]:
    """kind/name -> pod labels, for every workload."""
    return {where: meta["labels"] for where, meta, _ in render.pod_specs()}


def selected(render: Any, selector: dict[str, str]) -> set[str]:
    return {where for where, labels in workloads(render).items() if selects(selector, labels)}


def test_every_object_and_pod_has_the_recommended_labels(
    values_name: str, rendered: dict[str, Any]
) -> None:
    render = rendered[values_name]
    for obj in render.objects:
        missing = RECOMMENDED - set(obj["metadata"].get("labels", {}))
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"
    for where, meta, _ in render.pod_specs():
        assert not RECOMMENDED - set(meta["labels"]), where
        assert meta["labels"]["app.kubernetes.io/part-of"] == "saga"


def test_services_are_labelled_with_their_name_and_image_tag(rendered: dict[str, Any]) -> None:
    for service in SERVICES:
        labels = rendered["default"].deployment(service)["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == service
        assert labels["app.kubernetes.io/component"] == "service"
        assert labels["app.kubernetes.io/version"] == "0.1.0"


def test_workload_selectors_match_their_own_pods_only(
    values_name: str, rendered: dict[str, Any]
) -> None:
    render = rendered[values_name]
    for obj in render.of_kind("Deployment") + render.of_kind("StatefulSet"):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert selected(render, obj["spec"]["selector"]["matchLabels"]) == {where}


def test_each_service_routes_to_one_workload_on_a_declared_port(
    values_name: str, rendered: dict[str, Any]
) -> None:
    render = rendered[values_name]
    specs = {where: spec for where, _, spec in render.pod_specs()}
    for service in render.of_kind("Service"):
        (target,) = selected(render, service["spec"]["selector"])
        ports = {p["name"] for c in specs[target]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"{service['metadata']['name']} -> {target}"


def test_statefulsets_are_governed_by_a_headless_service(rendered: dict[str, Any]) -> None:
    render = rendered["default"]
    for statefulset in render.of_kind("StatefulSet"):
        governing = render.get("Service", statefulset["spec"]["serviceName"])
        assert governing["spec"]["clusterIP"] == "None"


def test_budgets_and_autoscalers_target_one_service_each(rendered: dict[str, Any]) -> None:
    render = rendered["production"]
    budgets = render.of_kind("PodDisruptionBudget")
    autoscalers = render.of_kind("HorizontalPodAutoscaler")
    assert len(budgets) == len(autoscalers) == len(SERVICES)
    for budget in budgets:
        assert selected(render, budget["spec"]["selector"]["matchLabels"]) == {
            f"Deployment/{budget['metadata']['name']}"
        }
    deployments = {d["metadata"]["name"] for d in render.of_kind("Deployment")}
    for autoscaler in autoscalers:
        target = autoscaler["spec"]["scaleTargetRef"]
        assert (target["kind"], target["apiVersion"]) == ("Deployment", "apps/v1")
        assert target["name"] in deployments
    # The autoscaler owns the replica count: the Deployments leave it unset.
    assert all("replicas" not in d["spec"] for d in render.of_kind("Deployment"))


def test_service_monitor_scrapes_exactly_the_five_services(rendered: dict[str, Any]) -> None:
    render = rendered["production"]
    (monitor,) = render.of_kind("ServiceMonitor")
    scraped = [
        s
        for s in render.of_kind("Service")
        if selects(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
    ]
    assert sorted(s["metadata"]["name"] for s in scraped) == sorted(f"saga-{n}" for n in SERVICES)
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True  # keep the samples' own `service` label
    assert all(endpoint["port"] in {p["name"] for p in s["spec"]["ports"]} for s in scraped)


def test_every_network_policy_selects_pods(rendered: dict[str, Any]) -> None:
    render = rendered["production"]
    for policy in render.of_kind("NetworkPolicy"):
        # An empty selector (the namespace's default deny) selects every pod.
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        assert selected(render, selector), policy["metadata"]
