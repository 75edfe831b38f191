"""The NetworkPolicies allow exactly the traffic the saga needs, and nothing else.

The rendered policies are evaluated the way Kubernetes does (a pod selected by a
policy of some direction accepts only what one of them allows; unselected pods accept
everything) over the release's own pods plus the pods around them in a cluster: DNS,
the observability stack, an ingress controller, a neighbour in the same namespace and
a stranger elsewhere. The allowed (source, destination, port) triples must equal the
saga's expected set. The namespace's default deny cuts the neighbour off both ways.
"""

from __future__ import annotations

from typing import Any

from chartkit import NAMESPACE, SERVICES, values_of
from netpol import Endpoint, endpoint, policy_types, reachable, selector_matches

# What values.yaml's ingress.routes sends through the Ingress (production turns it on).
ROUTED = ("booking", "payment", "billing", "invoice")

SURROUNDINGS = (
    endpoint(
        "kube-dns", "kube-system", {"k8s-app": "kube-dns"}, (53, "UDP", "dns"), (53, "TCP", "tcp")
    ),
    endpoint(
        "collector",
        "observability",
        {"app.kubernetes.io/name": "opentelemetry-collector"},
        (4317, "TCP", "otlp"),
        (4318, "TCP", "otlp-http"),
        (8889, "TCP", "spanmetrics"),
    ),
    endpoint(
        "prometheus",
        "observability",
        {"app.kubernetes.io/name": "prometheus"},
        (9090, "TCP", "web"),
    ),
    endpoint("grafana", "observability", {"app.kubernetes.io/name": "grafana"}, (3000, "TCP", "h")),
    endpoint(
        "ingress", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, (80, "TCP", "http")
    ),
    endpoint("neighbour", NAMESPACE, {"app": "other"}, (8080, "TCP", "http")),
    endpoint("stranger", "default", {"app": "other"}, (8080, "TCP", "http")),
)


def expected_traffic() -> set[tuple[str, str, int, str]]:
    """Production's paths: the five services, their migration Jobs, the test pod, and the
    ingress controller to the routed services only."""
    allowed = set()
    for service in SERVICES:
        allowed |= {
            (f"{service}-migrate", "postgres", 5432, "TCP"),
            (f"{service}-migrate", "kube-dns", 53, "UDP"),
            (f"{service}-migrate", "kube-dns", 53, "TCP"),
            (service, "postgres", 5432, "TCP"),
            (service, "redis", 6379, "TCP"),
            (service, "kube-dns", 53, "UDP"),
            (service, "kube-dns", 53, "TCP"),
            (service, "collector", 4317, "TCP"),
            (service, "collector", 4318, "TCP"),
            ("test", service, 8000, "TCP"),
            ("prometheus", service, 8000, "TCP"),
        }
    allowed |= {("ingress", service, 8000, "TCP") for service in ROUTED}
    return allowed | {("test", "kube-dns", 53, "UDP"), ("test", "kube-dns", 53, "TCP")}


def release_endpoints(render: Any) -> list[Endpoint]:
    """The release's workloads, named like the expected set (booking, postgres, test...)."""
    found = []
    for where, meta, spec in render.pod_specs():
        name = where.split("/", 1)[1].removeprefix("saga-")
        ports = tuple(
            (p["containerPort"], p.get("protocol", "TCP"), p.get("name", ""))
            for c in spec["containers"]
            for p in c.get("ports", [])
        )
        found.append(endpoint(name, NAMESPACE, meta["labels"], *ports))
    return found


def allowed_traffic(render: Any) -> set[tuple[str, str, int, str]]:
    policies = render.of_kind("NetworkPolicy")
    ours = release_endpoints(render)
    everyone = ours + list(SURROUNDINGS)
    allowed = set()
    for source in everyone:
        for destination in everyone:
            if source not in ours and destination not in ours:
                continue  # between the surroundings: not our policies' business
            for port in destination.ports:
                if reachable(policies, source, destination, port, NAMESPACE):
                    allowed.add((source.name, destination.name, port[0], port[1]))
    return allowed


def test_production_allows_exactly_the_saga_traffic(rendered: dict[str, Any]) -> None:
    allowed = allowed_traffic(rendered["production"])
    expected = expected_traffic()
    assert allowed - expected == set(), "allowed but not needed"
    assert expected - allowed == set(), "needed but denied"


def test_services_never_reach_each_other(rendered: dict[str, Any]) -> None:
    allowed = allowed_traffic(rendered["production"])
    assert {(s, d) for s, d, _, _ in allowed if s in SERVICES and d in SERVICES} == set()


def test_without_policies_everything_is_open(render_values: Any) -> None:
    # The evaluator's sanity check: no policy, no restriction.
    render = render_values({"networkPolicy": {"enabled": False}})
    assert not render.of_kind("NetworkPolicy")
    assert ("booking", "payment", 8000, "TCP") in allowed_traffic(render)
    assert ("stranger", "postgres", 5432, "TCP") in allowed_traffic(render)


def test_policies_are_on_by_default(rendered: dict[str, Any]) -> None:
    assert allowed_traffic(rendered["default"]) <= expected_traffic()
    deny = rendered["default"].get("NetworkPolicy", "saga-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def neighbourhood(policies: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Who talks with the neighbour (a pod of another app in the saga's namespace)."""
    neighbour, others = SURROUNDINGS[-2], [SURROUNDINGS[0], SURROUNDINGS[-1]]
    pairs = set()
    for other in others:
        for source, destination in ((neighbour, other), (other, neighbour)):
            for port in destination.ports:
                if reachable(policies, source, destination, port, NAMESPACE):
                    pairs.add((source.name, destination.name))
    return pairs


def test_the_default_deny_cuts_the_namespace_off_both_ways(render_values: Any) -> None:
    # The neighbour has no policy of its own: the default deny is all that stops it.
    closed = render_values(values_of("production")).of_kind("NetworkPolicy")
    assert neighbourhood(closed) == set()
    values = values_of("production")
    values["networkPolicy"]["defaultDeny"] = False
    opened = render_values(values).of_kind("NetworkPolicy")
    assert neighbourhood(opened) == {
        ("neighbour", "kube-dns"),
        ("kube-dns", "neighbour"),
        ("neighbour", "stranger"),
        ("stranger", "neighbour"),
    }


def test_the_ingress_controller_reaches_only_the_routed_services(render_values: Any) -> None:
    values = values_of("production")
    values["ingress"]["routes"] = {name: [] for name in ROUTED} | {"booking": ["/bookings"]}
    routed = {(s, d) for s, d, _, _ in allowed_traffic(render_values(values)) if s == "ingress"}
    assert routed == {("ingress", "booking")}
    values["ingress"] = {"enabled": False}
    assert not [t for t in allowed_traffic(render_values(values)) if t[0] == "ingress"]


def test_every_pod_of_the_release_is_covered_both_ways(rendered: dict[str, Any]) -> None:
    render = rendered["production"]
    policies = render.of_kind("NetworkPolicy")
    for pod in release_endpoints(render):
        covering = [
            p for p in policies if selector_matches(p["spec"]["podSelector"], pod.label_map)
        ]
        assert {t for p in covering for t in policy_types(p["spec"])} == {"Ingress", "Egress"}


def test_a_looser_policy_would_be_caught(render_values: Any) -> None:
    # The evaluator's other sanity check: letting the whole namespace call the services
    # opens them to the neighbour; service to service stays shut by the egress rules.
    # (The default deny is off here: it would stop the neighbour's egress on its own.)
    values = values_of("production")
    values["networkPolicy"] = {"httpClients": [{"podSelector": {}}], "defaultDeny": False}
    allowed = allowed_traffic(render_values(values))
    assert ("neighbour", "booking", 8000, "TCP") in allowed
    assert ("booking", "payment", 8000, "TCP") not in allowed
    assert ("neighbour", "postgres", 5432, "TCP") not in allowed
    values["networkPolicy"]["defaultDeny"] = True
    assert ("neighbour", "booking", 8000, "TCP") not in allowed_traffic(render_values(values))


def test_external_servers_are_reached_only_on_their_ports(render_values: Any) -> None:
    values = values_of("external")
    values["networkPolicy"]["enabled"] = True
    render = render_values(values)
    egress = render.get("NetworkPolicy", "saga-booking")["spec"]["egress"]
    by_port = {rule["ports"][0]["port"]: rule for rule in egress}
    assert by_port[5432]["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    assert by_port[6379]["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    assert {p["metadata"]["name"] for p in render.of_kind("NetworkPolicy")} == {
        *(f"saga-{service}" for service in SERVICES),
        "saga-test",
        "saga-default-deny",
    }


def test_external_migration_jobs_reach_only_the_database_and_dns(render_values: Any) -> None:
    values = values_of("external")
    values["networkPolicy"]["enabled"] = True
    values["migrations"] = {"job": {"enabled": True}}
    values["defaults"] = {"migrate": {"enabled": False}}
    render = render_values(values)
    egress = render.get("NetworkPolicy", "saga-migrations")["spec"]["egress"]
    by_port = {rule["ports"][0]["port"]: rule for rule in egress}
    assert set(by_port) == {53, 5432}
    assert by_port[5432]["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    traffic = allowed_traffic(render)
    for service in SERVICES:
        reached = {(d, port) for s, d, port, _ in traffic if s == f"{service}-migrate"}
        assert reached == {("kube-dns", 53)}  # Postgres is outside the cluster (the ipBlock)
    assert not {t for t in traffic if t[1].endswith("-migrate")}, "nobody calls a migration"
