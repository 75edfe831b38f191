"""charts/observability: the pinned upstream charts, vendored, locked, rendering valid objects.

The umbrella is rendered once per session (conftest.py `stack`) like `make
observability-up` installs it: release observability, namespace observability.
"""

from __future__ import annotations

import subprocess
from types import ModuleType
from typing import Any

import pytest
import yaml
from chartkit import ROOT, require
from clusterkit import mounted_config, placed, pods
from umbrellakit import (
    DEPENDENCIES,
    UMBRELLA,
    archive_chart,
    archive_file,
    archives,
    chart_lock,
    chart_yaml,
    crd_schemas,
    ignored_keys,
    lock_digest,
    readme_pins,
    sha256,
    values,
)

jsonschema = require("jsonschema", "jsonschema")
kubernetes_validate = require("kubernetes_validate", "kubernetes-validate")

# The oldest Kubernetes the three charts support that kubernetes-validate knows, and kind's.
KUBERNETES_VERSIONS = ("1.31.0", "1.35.0")
LOCAL_COLLECTOR = ROOT / "observability" / "otel-collector" / "config.yaml"


def test_chart_yaml_pins_the_three_upstream_charts() -> None:
    dependencies = chart_yaml()["dependencies"]
    assert [d["name"] for d in dependencies] == list(DEPENDENCIES)
    for dependency in dependencies:
        assert dependency["version"].count(".") == 2, "an exact version, not a range"
        assert dependency["version"].replace(".", "").isdigit(), dependency
        assert dependency["repository"].startswith("https://"), dependency


def test_chart_lock_is_helms_lock_of_chart_yaml() -> None:
    requested, lock = chart_yaml()["dependencies"], chart_lock()
    fields = ("name", "repository", "version")
    assert [{k: d[k] for k in fields} for d in lock["dependencies"]] == [
        {k: d[k] for k in fields} for d in requested
    ]
    digest = lock_digest(requested, lock["dependencies"])
    assert lock["digest"] == digest, f"Chart.lock must say digest: {digest}"


@pytest.mark.parametrize("name", ["jaeger", "kube-prometheus-stack"])
def test_the_digest_is_helms_own(name: str) -> None:
    # Both archives carry a Chart.lock written by Helm: our digest must agree with it.
    (archive,) = [path for path in archives() if path.name.startswith(f"{name}-")]
    chart, lock = archive_chart(archive), archive_file(archive, "Chart.lock")
    assert lock_digest(chart["dependencies"], lock["dependencies"]) == lock["digest"]


def test_the_archives_are_the_locked_versions(helm: ModuleType) -> None:
    locked = {d["name"]: d["version"] for d in chart_lock()["dependencies"]}
    found = {archive_chart(p)["name"]: archive_chart(p)["version"] for p in archives()}
    assert found == locked
    assert [p.name for p in archives()] == sorted(f"{n}-{v}.tgz" for n, v in locked.items())
    statuses = {d["name"]: d["status"] for d in helm.dependency_list(UMBRELLA)}
    assert statuses == dict.fromkeys(DEPENDENCIES, "ok")


def test_the_archives_are_the_ones_the_readme_records() -> None:
    pins = readme_pins()
    locked = {d["name"]: d["version"] for d in chart_lock()["dependencies"]}
    assert {name: version for name, (version, _) in pins.items()} == locked
    for archive in archives():
        name = archive_chart(archive)["name"]
        assert sha256(archive) == pins[name][1], f"{archive.name} is not the archive recorded"


def test_git_keeps_the_archives() -> None:
    paths = [str(p.relative_to(ROOT)) for p in archives()]
    ignored = subprocess.run(
        ["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.stdout == "", f".gitignore drops {ignored.stdout.split()}"


def test_the_umbrella_lints_clean(helm: ModuleType) -> None:
    report = helm.lint(UMBRELLA, strict=True, namespace="observability")
    assert [m for m in report["messages"] if m["severity"] > 1] == []
    assert not report.get("errors")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_kubernetes(stack: Any, version: str) -> None:
    errors = []
    for obj in stack.objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # kubernetes-validate has no CRDs: see the next test
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(part) for part in error.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {error.message}")
    assert errors == []


def test_monitoring_objects_follow_the_crds_the_umbrella_installs(
    helm: ModuleType, cluster_objects: list[dict[str, Any]]
) -> None:
    schemas = crd_schemas(helm)
    monitoring = [
        o for o in cluster_objects if o["apiVersion"].startswith("monitoring.coreos.com/")
    ]
    assert {o["kind"] for o in monitoring} == {"Prometheus", "ServiceMonitor", "PrometheusRule"}
    errors = [
        f"{o['kind']}/{o['metadata']['name']}: {e.message}"
        for o in monitoring
        for e in jsonschema.Draft7Validator(schemas[(o["apiVersion"], o["kind"])]).iter_errors(o)
    ]
    assert errors == []
    broken = {**monitoring[0], "spec": {**monitoring[0]["spec"], "scrapeIntervall": "1s"}}
    schema = schemas[(broken["apiVersion"], broken["kind"])]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken)), "strict: unknown fields"


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_every_key_of_our_values_changes_the_render(helm: ModuleType, dependency: str) -> None:
    # A key the chart does not know (any more) is silently ignored: jaeger 4 dropped
    # allInOne, storage, agent, collector and query, and nothing said so.
    assert set(values()) == set(DEPENDENCIES)
    assert ignored_keys(helm, dependency) == []


def test_a_key_jaeger_4_dropped_is_reported(helm: ModuleType) -> None:
    old = {
        "fullnameOverride": "jaeger",
        "allInOne": {"enabled": True},
        "storage": {"type": "memory"},
    }
    assert ignored_keys(helm, "jaeger", old) == ["allInOne.enabled", "storage.type"]


def test_the_collector_runs_the_local_pipelines(stack: Any) -> None:
    # The same connectors, processors and pipelines as the compose setup's collector;
    # only the listen addresses (the pod's IP) and Jaeger's address differ.
    objs = placed(stack.objects, "observability")
    (collector,) = [p for p in pods(objs) if "otel-collector" in p.owner]
    cluster = mounted_config(objs, collector)
    local = yaml.safe_load(LOCAL_COLLECTOR.read_text())
    assert cluster is not None
    for config in (cluster, local):
        config["exporters"]["otlp/jaeger"].pop("endpoint")
        for section in ("extensions", "receivers", "exporters"):
            drop_endpoints(config[section])
    assert cluster == local


def test_span_metrics_keep_their_labels_and_exemplars(stack: Any) -> None:
    # The span metrics' job/instance name the service that emitted the spans (honorLabels),
    # and Prometheus keeps their trace ids (exemplars) for Grafana's links to Jaeger.
    monitor = stack.get("ServiceMonitor", "otel-collector")
    assert [e.get("honorLabels") for e in monitor["spec"]["endpoints"]] == [True]
    prometheus = stack.get("Prometheus", "kube-prometheus-stack-prometheus")["spec"]
    assert "exemplar-storage" in prometheus["enableFeatures"]


def test_jaeger_keeps_a_bounded_number_of_traces_in_memory(stack: Any) -> None:
    objs = placed(stack.objects, "observability")
    (jaeger,) = [p for p in pods(objs) if p.owner == "Deployment observability/jaeger"]
    config = mounted_config(objs, jaeger)
    assert config is not None
    backends = config["extensions"]["jaeger_storage"]["backends"]
    assert [b["memory"]["max_traces"] > 0 for b in backends.values()] == [True]


def drop_endpoints(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("endpoint", None)
        for value in node.values():
            drop_endpoints(value)


def test_the_notes_say_where_grafanas_password_is(stack: Any) -> None:
    notes = stack.manifests["observability/templates/NOTES.txt"]
    grafana = stack.get("Deployment", "kube-prometheus-stack-grafana")
    (container,) = [
        c for c in grafana["spec"]["template"]["spec"]["containers"] if c["name"] == "grafana"
    ]
    (password,) = [e for e in container["env"] if e["name"] == "GF_SECURITY_ADMIN_PASSWORD"]
    secret = password["valueFrom"]["secretKeyRef"]
    assert "make grafana-login" in notes
    assert f"get secret {secret['name']} -o jsonpath='{{.data.{secret['key']}}}'" in notes


def test_every_workload_fits_a_small_cluster(stack: Any) -> None:
    # Requests the scheduler must find room for next to the saga on a 2-CPU kind node,
    # and a memory limit on each container. Hook Jobs (admission webhook certificates)
    # run once, for seconds.
    objs = placed(stack.objects, "observability")
    containers = [
        c
        for pod in pods(objs)
        if pod.owner.startswith("Deployment")
        for c in pod.spec["containers"]
    ]
    prometheus = stack.get("Prometheus", "kube-prometheus-stack-prometheus")["spec"]
    resources = [c.get("resources") or {} for c in containers] + [prometheus["resources"]]
    assert all("memory" in (r.get("limits") or {}) for r in resources), resources
    cpu = sum(quantity(r["requests"]["cpu"]) for r in resources)
    memory = sum(quantity(r["requests"]["memory"]) for r in resources)
    assert cpu <= 0.5 and memory <= 1.25 * 2**30, (cpu, memory / 2**20)


def quantity(text: str) -> float:
    units = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)
