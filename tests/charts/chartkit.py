"""Helpers of the chart tests: Helm, the values files, and renders as Kubernetes objects.

Helm is the `helm-python-sdk` package (Helm v4 compiled into a library, pinned by
uv.lock), so every machine renders with the same Helm and the golden files stay
comparable. Each values file in charts/saga/values/ is rendered once per session,
on top of TEST_VALUES (fixed passwords, so nothing random reaches a render).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib
import re
import shutil
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sagakit.signing import SigningKey

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
SAGA = CHARTS / "saga"
SERVICES = ("booking", "manager", "billing", "payment", "invoice")
RELEASE = "saga"
NAMESPACE = "saga"
# "default" is values.yaml alone; the others are values/<name>.yaml on top of it.
VALUES = ("default", "kind", "external", "pubsub", "production", "keycloak")
# The issuer a user must set for the oidc renders (values.yaml's default mode); dev mode
# (kind.yaml) ignores it.
TEST_ISSUER = "https://id.example.test/realms/saga"


def fixed_event_keys() -> dict[str, dict[str, str]]:
    """Event keys derived from each service's name, so renders with them never change."""
    keys = {}
    for name in SERVICES:
        seed = hashlib.sha256(f"saga-chart-test-{name}".encode()).digest()
        key = SigningKey(f"{name}-test", Ed25519PrivateKey.from_private_bytes(seed))
        public = key.verify_entry(name).rsplit(":", 1)[1]
        keys[name] = {"signingKey": key.setting(), "verifyKey": public}
    return keys


TEST_VALUES: dict[str, Any] = {
    "auth": {
        "databasePasswords": {name: f"{name}-password" for name in SERVICES},
        "redisPassword": "redis-password",
        "issuer": TEST_ISSUER,
        "redisUserPasswords": {name: f"{name}-redis" for name in (*SERVICES, "operator")},
    },
    "eventKeys": {"given": fixed_event_keys()},
    "postgres": {"auth": {"password": "postgres-password"}},
}
# Your own Postgres and Redis given as URLs in the chart's Secret (no values file does that).
EXTERNAL_URLS = {
    "postgres": {"enabled": False},
    "redis": {"enabled": False},
    "externalDatabase": {
        "urls": {name: f"postgresql://{name}:pw@db.example.com:5432/{name}" for name in SERVICES}
    },
    "externalRedis": {"url": "redis://:pw@redis.example.com:6379/0"},
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "Pod")
QUANTITY_UNITS = {
    **{"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12},
    **{"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40},
}
INSTALL_HINT = "Run `uv sync --all-packages`: the chart tests' tools are in the dev group."


def require(module: str, package: str) -> ModuleType:
    """Import a test tool, or fail saying how to install it (never a skip)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{package} is not installed ({exc}). {INSTALL_HINT}", pytrace=False)


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity ("192Mi", "1G", "268435456") in bytes."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)", quantity)
    assert match and match[2] in QUANTITY_UNITS, f"not a memory quantity: {quantity!r}"
    return int(Decimal(match[1]) * QUANTITY_UNITS[match[2]])


def own_servers(server: str) -> list[str]:
    """The values files that run the chart's own `postgres` or `redis`, production first."""
    names = [name for name in VALUES if values_of(name).get(server, {}).get("enabled", True)]
    return sorted(names, key=lambda name: name != "production")


def load_helm() -> ModuleType:
    """The Helm SDK, or a failure that says how to get it (never a skip)."""
    try:
        import helm_python

        helm_python.helm_sdk_version()  # loads the native library
    except (ImportError, OSError) as exc:
        pytest.fail(f"helm-python-sdk is not usable ({exc}). {INSTALL_HINT}", pytrace=False)
    return helm_python


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge like Helm's `-f a.yaml -f b.yaml`: maps recursively, anything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def values_of(name: str) -> dict[str, Any]:
    """The user values of a named values file (empty for the chart's defaults)."""
    if name == "default":
        return {}
    return yaml.safe_load((SAGA / "values" / f"{name}.yaml").read_text()) or {}


def documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of one rendered template."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def build_chart(helm: ModuleType, into: Path) -> Path:
    """A copy of charts/ under `into` with saga's file:// dependencies built.

    Built in a copy so the work tree gets no Chart.lock and no packaged subcharts.
    """
    copy_root = into / "charts"
    shutil.copytree(CHARTS, copy_root, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    helm.dependency_build(copy_root / "saga")
    return copy_root / "saga"


def render_chart(
    helm: ModuleType,
    chart_dir: Path,
    values: dict[str, Any],
    release: str = RELEASE,
    fixed: bool = True,
) -> Render:
    """`helm template` of the built chart with `values` (on top of TEST_VALUES if fixed).

    The chart is loaded anew for every render: Helm drops the subcharts a render disables
    from the loaded chart itself, so a reused one would render them disabled ever after.
    """
    merged = deep_merge(TEST_VALUES if fixed else {}, values)
    with helm.Chart.load(chart_dir) as chart:
        manifests = chart.render(merged, name=release, namespace=NAMESPACE, is_install=True)
    return Render(manifests=manifests)


@dataclass
class Render:
    """One `helm template` of the saga chart: template path -> text, and the objects."""

    manifests: dict[str, str]

    @cached_property
    def objects(self) -> list[dict[str, Any]]:
        return [
            doc
            for path in sorted(self.manifests)
            if not path.endswith("NOTES.txt")
            for doc in documents(self.manifests[path])
        ]

    @property
    def notes(self) -> str:
        return self.manifests.get("saga/templates/NOTES.txt", "")

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [obj for obj in self.of_kind(kind) if obj["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def pod_specs(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(kind/name, pod metadata, pod spec) of every workload, the test pod included."""
        pods = []
        for obj in self.objects:
            if obj["kind"] == "Pod":
                pods.append((f"Pod/{obj['metadata']['name']}", obj["metadata"], obj["spec"]))
            elif obj["kind"] in WORKLOAD_KINDS:
                template = obj["spec"]["template"]
                where = f"{obj['kind']}/{obj['metadata']['name']}"
                pods.append((where, template["metadata"], template["spec"]))
        return pods

    def deployment(self, service: str) -> dict[str, Any]:
        return self.get("Deployment", f"{RELEASE}-{service}")

    def job(self, service: str) -> dict[str, Any]:
        """The migration Job of a service (migrations.job.enabled)."""
        return self.get("Job", f"{RELEASE}-{service}-migrate")

    def container(self, service: str) -> dict[str, Any]:
        spec = self.deployment(service)["spec"]["template"]["spec"]
        return next(c for c in spec["containers"] if c["name"] == service)

    def env(self, service: str, container: str | None = None) -> dict[str, str]:
        """The resolved environment of a container of a service's Deployment."""
        spec = self.deployment(service)["spec"]["template"]["spec"]
        return self.pod_env(spec, container or service, f"{RELEASE}-{service}-0")

    def job_env(self, service: str, pod_name: str) -> dict[str, str]:
        """The resolved environment of a service's migration Job, in a pod named pod_name."""
        return self.pod_env(self.job(service)["spec"]["template"]["spec"], "migrate", pod_name)

    def pod_env(self, spec: dict[str, Any], name: str, pod_name: str) -> dict[str, str]:
        """What the kubelet would put in a container's environment, every reference resolved.

        envFrom first, then the env list in order (later wins); valueFrom reads the rendered
        ConfigMaps and Secrets and the pod's fields; $(VAR) expands variables defined before.
        """
        found = next(
            c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == name
        )
        env: dict[str, str] = {}
        for source in found.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.get("ConfigMap", source["configMapRef"]["name"])["data"])
            else:
                env.update(self._secret(source["secretRef"]["name"]))
        pod_fields = {"metadata.name": pod_name, "metadata.namespace": NAMESPACE}
        for var in found.get("env", []):
            if "value" in var:
                value = re.sub(
                    r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                    lambda m: env.get(m[1], m[0]),
                    str(var["value"]),
                )
            elif "secretKeyRef" in (ref := var["valueFrom"]):
                value = self._secret(ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]]
            elif "configMapKeyRef" in ref:
                data = self.get("ConfigMap", ref["configMapKeyRef"]["name"])["data"]
                value = data[ref["configMapKeyRef"]["key"]]
            else:
                value = pod_fields[ref["fieldRef"]["fieldPath"]]
            env[var["name"]] = value
        return env

    def _secret(self, name: str) -> dict[str, str]:
        secret = self.get("Secret", name)
        data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        return {**data, **secret.get("stringData", {})}


def references(spec: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(kind, name, key or None) of every Secret and ConfigMap a pod spec uses."""
    found: list[tuple[str, str, str | None]] = []
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                found.append(("ConfigMap", source["configMapRef"]["name"], None))
            if "secretRef" in source:
                found.append(("Secret", source["secretRef"]["name"], None))
        for var in container.get("env", []):
            ref = var.get("valueFrom", {})
            if "secretKeyRef" in ref:
                found.append(("Secret", ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]))
            if "configMapKeyRef" in ref:
                ref = ref["configMapKeyRef"]
                found.append(("ConfigMap", ref["name"], ref["key"]))
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            found.append(("ConfigMap", volume["configMap"]["name"], None))
        if "secret" in volume:
            found.append(("Secret", volume["secret"]["secretName"], None))
    return found
