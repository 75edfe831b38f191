"""NetworkPolicies evaluated the way Kubernetes does, over pods described by their labels.

A pod selected by some policy of a direction accepts only what one of those policies
allows in that direction; a pod no policy selects accepts everything. Namespaces are
matched by the label every namespace carries, kubernetes.io/metadata.name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Port = tuple[int, str, str]  # (number, protocol, name)


@dataclass(frozen=True)
class Endpoint:
    """A workload as the network sees it: where it runs, its labels, what it listens on."""

    name: str
    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: tuple[Port, ...]

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def endpoint(name: str, namespace: str, labels: dict[str, str], *ports: Port) -> Endpoint:
    return Endpoint(name, namespace, tuple(sorted(labels.items())), tuple(ports))


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against a set of labels."""
    selector = selector or {}
    if not all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        passed = {
            "In": present and labels.get(key) in (values or []),
            "NotIn": not present or labels.get(key) not in (values or []),
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not passed:
            return False
    return True


def namespace_matches(selector: dict[str, Any] | None, namespace: str) -> bool:
    return selector_matches(selector, {"kubernetes.io/metadata.name": namespace})


def peer_matches(peer: dict[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return False  # addresses outside the cluster's pods
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        in_namespace = other.namespace == policy_namespace
    else:
        in_namespace = namespace_matches(namespace_selector, other.namespace)
    pod_selector = peer.get("podSelector")
    return in_namespace and (
        pod_selector is None or selector_matches(pod_selector, other.label_map)
    )


def port_matches(rule_ports: list[dict[str, Any]] | None, port: Port) -> bool:
    if not rule_ports:
        return True
    number, protocol, name = port
    for rule in rule_ports:
        if rule.get("protocol", "TCP") != protocol:
            continue
        wanted = rule.get("port")
        if wanted is None or wanted in (number, name):
            return True
        if isinstance(wanted, int) and wanted <= number <= rule.get("endPort", wanted):
            return True
    return False


def policy_types(spec: dict[str, Any]) -> list[str]:
    return spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]


def allows(
    policies: list[dict[str, Any]],
    direction: str,
    subject: Endpoint,
    other: Endpoint,
    port: Port,
    default_namespace: str = "",
) -> bool:
    """Does `subject` let traffic to (Ingress) or from (Egress) `other` through on `port`?

    A policy without metadata.namespace lives in `default_namespace` (a release's render).
    """
    selecting = [
        policy
        for policy in policies
        if _home(policy, default_namespace) == subject.namespace
        and selector_matches(policy["spec"]["podSelector"], subject.label_map)
        and direction in policy_types(policy["spec"])
    ]
    if not selecting:
        return True
    peers_key = "from" if direction == "Ingress" else "to"
    for policy in selecting:
        home = _home(policy, default_namespace)
        for rule in policy["spec"].get(direction.lower()) or []:
            peers = rule.get(peers_key)
            reaches = peers is None or any(peer_matches(p, home, other) for p in peers)
            if reaches and port_matches(rule.get("ports"), port):
                return True
    return False


def _home(policy: dict[str, Any], default_namespace: str) -> str:
    return str(policy["metadata"].get("namespace") or default_namespace)


def reachable(
    policies: list[dict[str, Any]],
    source: Endpoint,
    destination: Endpoint,
    port: Port,
    default_namespace: str = "",
) -> bool:
    """Both ends' policies let `source` open a connection to `destination` on `port`."""
    return allows(policies, "Egress", source, destination, port, default_namespace) and allows(
        policies, "Ingress", destination, source, port, default_namespace
    )
