"""mk/k8s.mk finds what the charts render: Services by label, Grafana's Secret, the release.

`make port-forward` and `make grafana-login` select by the labels in mk/k8s.mk (so any
release name works); these tests read them out of the Makefile and look them up in the
renders. `make deploy` adds values/observed.yaml when asked or when the cluster has
the Prometheus Operator's CRDs.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import NAMESPACE as SAGA_NAMESPACE
from chartkit import ROOT
from clusterkit import backends, of_kind, pods
from grafanawiring import datasources
from netpol import selector_matches
from umbrellakit import NAMESPACE, OBSERVED, RELEASE
from wiring import resolve

MK = (ROOT / "mk" / "k8s.mk").read_text()
Objs = list[dict[str, Any]]


def variable(name: str) -> str:
    match = re.search(rf"^{name} :?= (.*)$", MK, flags=re.MULTILINE)
    assert match, f"mk/k8s.mk sets no {name}"
    return match[1].strip()


def labelled(objs: Objs, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
    """What `kubectl -n <namespace> get <kind> -l <selector>` would list."""
    wanted = dict(pair.split("=", 1) for pair in selector.split(","))
    return [
        o
        for o in of_kind(objs, kind, namespace)
        if selector_matches({"matchLabels": wanted}, o["metadata"].get("labels") or {})
    ]


def make(*args: str, path: str | None = None) -> str:
    env = {**os.environ, "PATH": f"{path}:{os.environ['PATH']}"} if path else None
    done = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.replace("\\\n", " ").split())


def test_each_saga_service_is_found_by_its_labels(cluster_objects: Objs) -> None:
    names = [pair.split(":")[0] for pair in variable("SAGA_PORTS").split()]
    for name in names:
        selector = f"{variable('SAGA_SELECTOR')},app.kubernetes.io/name={name}"
        (service,) = labelled(cluster_objects, "Service", SAGA_NAMESPACE, selector)
        assert variable("SAGA_PORT") in [p["name"] for p in service["spec"]["ports"]]
        owners = {pod.owner for pod in backends(cluster_objects, service)}
        assert owners == {f"Deployment saga/saga-{name}"}


FORWARD = re.compile(
    r'forward \$\(OBSERVABILITY_NAMESPACE\) "\$\((\w+)_SELECTOR\)" (\d+):\$\((\w+)_PORT\) (\w+)'
)


def test_the_three_uis_are_forwarded_to_the_agreed_local_ports() -> None:
    # `make verify-observability` reads Jaeger, Grafana and Prometheus on these ports.
    forwards = {name: int(port) for _, port, _, name in FORWARD.findall(MK)}
    assert forwards == {"jaeger": 16686, "grafana": 3000, "prometheus": 9090}
    assert variable("UI_PORTS").split() == [f"{n}:{p}" for n, p in forwards.items()]
    assert all(a == b for a, _, b, _ in FORWARD.findall(MK))


def forwarded(objs: Objs, ui: str) -> tuple[dict[str, Any], int]:
    """The one Service `make port-forward` finds for a UI, and its port's number."""
    (service,) = labelled(objs, "Service", NAMESPACE, variable(f"{ui}_SELECTOR"))
    ports = [p for p in service["spec"]["ports"] if p.get("name") == variable(f"{ui}_PORT")]
    assert ports, f"{service['metadata']['name']} has no port {variable(f'{ui}_PORT')}"
    return service, ports[0]["port"]


@pytest.mark.parametrize(("ui", "source"), [("JAEGER", "jaeger"), ("PROMETHEUS", "prometheus")])
def test_jaeger_and_prometheus_are_forwarded_where_grafana_reads_them(
    cluster_objects: Objs, ui: str, source: str
) -> None:
    service, port = forwarded(cluster_objects, ui)
    (url,) = [ds["url"] for _, ds in datasources(cluster_objects) if ds["type"] == source]
    reached, problems = resolve(cluster_objects, url, NAMESPACE)
    via = f"{service['metadata']['name']}.{NAMESPACE}:{port}"
    assert problems == [] and reached == resolve(cluster_objects, via, NAMESPACE)[0]


def test_grafana_is_forwarded_to_grafana(cluster_objects: Objs) -> None:
    service, port = forwarded(cluster_objects, "GRAFANA")
    grafana = {pod.owner for pod, _ in datasources(cluster_objects)}
    reached, problems = resolve(cluster_objects, f"{service['metadata']['name']}:{port}", NAMESPACE)
    assert problems == [] and {pod.owner for pod, _ in reached} == grafana


def test_grafana_login_reads_the_secret_grafana_takes_its_admin_from(cluster_objects: Objs) -> None:
    (secret,) = labelled(cluster_objects, "Secret", NAMESPACE, variable("GRAFANA_SECRET_SELECTOR"))
    recipe = MK[MK.index("grafana-login:") : MK.index("port-forward:")]
    keys = re.findall(r"\{\.data\.([\w-]+)\}", recipe)
    grafana = [p for p in pods(cluster_objects) if "grafana" in p.owner]
    (container,) = [c for p in grafana for c in p.spec["containers"] if c["name"] == "grafana"]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    admin = [refs["GF_SECURITY_ADMIN_USER"], refs["GF_SECURITY_ADMIN_PASSWORD"]]
    assert [{"name": secret["metadata"]["name"], "key": key} for key in keys] == admin


def test_observability_up_installs_the_release_the_saga_is_labelled_for() -> None:
    commands = make("-n", "observability-up")
    assert commands == (
        f"helm upgrade --install {RELEASE} charts/observability -n {NAMESPACE} "
        "--create-namespace --wait --timeout 10m"
    )
    labels = yaml.safe_load(OBSERVED.read_text())
    assert labels["serviceMonitor"]["labels"] == labels["prometheusRule"]["labels"]
    assert labels["serviceMonitor"]["labels"] == {"release": RELEASE}


@pytest.mark.parametrize(("observed", "added"), [("1", True), ("0", False)])
def test_deploy_adds_the_monitoring_values_when_told(observed: str, added: bool) -> None:
    commands = make("-n", "deploy", f"OBSERVED={observed}")
    assert ("-f charts/saga/values/observed.yaml" in commands) is added
    assert "-f charts/saga/values/kind.yaml" in commands


@pytest.mark.parametrize(
    ("resources", "added"),
    [
        (["servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"], True),
        (["servicemonitors.monitoring.coreos.com"], False),
        ([], False),
    ],
)
def test_deploy_adds_them_when_the_cluster_has_both_crds(
    tmp_path: Path, resources: list[str], added: bool
) -> None:
    # A stand-in kubectl answering `kubectl api-resources ... -o name` as the real one does
    # (one resource.group per line): this tests the Makefile's reading of it, not a cluster.
    kubectl = tmp_path / "kubectl"
    listing = "".join(f"{name}\\n" for name in ["podmonitors.monitoring.coreos.com", *resources])
    kubectl.write_text(f'#!/bin/sh\n[ "$1" = api-resources ] && printf "{listing}"\n')
    kubectl.chmod(0o755)
    commands = make("-n", "deploy", path=str(tmp_path))
    assert ("-f charts/saga/values/observed.yaml" in commands) is added


def test_the_new_recipes_are_valid_shell() -> None:
    script = subprocess.run(
        ["make", "--no-print-directory", "-n", "port-forward", "grafana-login"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
