"""Helpers of the observability umbrella's tests: its lock, its archives, its renders.

charts/observability pins three upstream charts whose archives are committed in its
charts/ folder. Helm's lock digest is reproduced here because the SDK does not expose
it and `helm dependency build` would try to download.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from chartkit import CHARTS, ROOT, Render, deep_merge

UMBRELLA = CHARTS / "observability"
# What `make observability-up` installs; charts/saga/values/observed.yaml names both.
RELEASE = "observability"
NAMESPACE = "observability"
DEPENDENCIES = ("opentelemetry-collector", "jaeger", "kube-prometheus-stack")
OBSERVED = CHARTS / "saga" / "values" / "observed.yaml"
DASHBOARDS = ROOT / "observability" / "grafana" / "dashboards"
# The saga's own NetworkPolicies on: the default, made explicit so the wiring checks keep
# them whatever the defaults become.
POLICIES: dict[str, Any] = {"networkPolicy": {"enabled": True}}
# Fields of a dependency in Helm's hash, in the Go struct's order; all but name and
# repository are `omitempty` (left out when empty).
_HASHED = (
    "name",
    "version",
    "repository",
    "condition",
    "tags",
    "enabled",
    "import-values",
    "alias",
)


def _hashed(dependency: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key in _HASHED:
        value = dependency.get(key)
        if value or key in ("name", "repository"):
            out[key] = value or ""
    return out


def lock_digest(requested: list[dict[str, Any]], locked: list[dict[str, Any]]) -> str:
    """Helm's Chart.lock digest (resolver.HashReq): sha256 of the JSON of both lists."""
    data = json.dumps(
        [[_hashed(d) for d in requested], [_hashed(d) for d in locked]], separators=(",", ":")
    )
    # Go's encoder escapes these three inside strings; json.dumps does not.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def chart_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((UMBRELLA / "Chart.yaml").read_text())
    return loaded


def chart_lock() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((UMBRELLA / "Chart.lock").read_text())
    return loaded


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((UMBRELLA / "values.yaml").read_text())
    return loaded


def archives() -> list[Path]:
    return sorted((UMBRELLA / "charts").glob("*.tgz"))


def archive_file(path: Path, name: str) -> dict[str, Any]:
    """A YAML file of a chart archive (Chart.yaml, Chart.lock), under its single top folder."""
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes()), mode="r:gz") as tar:
        pattern = rf"[^/]+/{re.escape(name)}"
        member = next(m for m in tar.getmembers() if re.fullmatch(pattern, m.name))
        handle = tar.extractfile(member)
        assert handle is not None
        loaded: dict[str, Any] = yaml.safe_load(handle.read())
    return loaded


def archive_chart(path: Path) -> dict[str, Any]:
    return archive_file(path, "Chart.yaml")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def readme_pins() -> dict[str, tuple[str, str]]:
    """chart -> (version, sha256) from the table of charts/observability/README.md."""
    rows = re.findall(
        r"^\| ([a-z-]+) \| ([0-9.]+) \|.*\| `([0-9a-f]{64})` \|$",
        (UMBRELLA / "README.md").read_text(),
        flags=re.MULTILINE,
    )
    return {name: (version, digest) for name, version, digest in rows}


def ignored_keys(
    helm: ModuleType, dependency: str, ours: dict[str, Any] | None = None
) -> list[str]:
    """The keys of our values for a dependency whose removal leaves its render unchanged.

    The dependency's archive is rendered on its own with `ours` (default: its section of
    values.yaml), once whole and once without each leaf key. Grafana's random password
    is masked.
    """
    (archive,) = [p for p in archives() if archive_chart(p)["name"] == dependency]
    ours = values()[dependency] if ours is None else ours

    def render(given: dict[str, Any]) -> dict[str, str] | None:
        """The manifests, or None if the chart refuses the values (the key was needed)."""
        try:
            with helm.Chart.load(archive) as chart:
                manifests = chart.render(given, name=RELEASE, namespace=NAMESPACE, is_install=True)
        except helm.HelmError:
            return None
        return {path: _VOLATILE.sub(r"\1<random>", text) for path, text in manifests.items()}

    whole = render(ours)
    assert whole is not None, f"{dependency} does not render with our values"
    return [".".join(path) for path in _leaves(ours) if render(_without(ours, path)) == whole]


_VOLATILE = re.compile(r"^(\s*(?:admin-password|checksum/secret):).*$", re.MULTILINE)


def _leaves(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, dict) and node:
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]
    return [path]


def _without(node: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(node)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return out


def render_umbrella(helm: ModuleType, overrides: dict[str, Any] | None = None) -> Render:
    """`helm template observability charts/observability -n observability` (+ overrides).

    Loaded anew each time: Helm drops the subcharts a render disables from the loaded chart.
    """
    with helm.Chart.load(UMBRELLA) as chart:
        manifests = chart.render(
            overrides or {}, name=RELEASE, namespace=NAMESPACE, is_install=True
        )
    return Render(manifests=manifests)


def observed_values(name: str = "kind") -> dict[str, Any]:
    """charts/saga/values/<name>.yaml with values/observed.yaml on top, as `make deploy` does."""
    base = yaml.safe_load((CHARTS / "saga" / "values" / f"{name}.yaml").read_text()) or {}
    return deep_merge(base, yaml.safe_load(OBSERVED.read_text()))


def dashboards() -> list[dict[str, Any]]:
    """The Grafana dashboards the saga chart ships (observability/grafana/dashboards)."""
    return [json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))]


def crd_schemas(helm: ModuleType) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the openAPIV3Schema of every CRD the umbrella ships, made strict.

    Like `kubectl apply --validate=strict`, a field the schema does not declare is an
    error (the API server would drop it silently otherwise).
    """
    with helm.Chart.load(UMBRELLA) as chart:
        crds = chart.crds
    schemas = {}
    for crd in crds:
        spec = yaml.load(crd["data"], Loader=_CrdLoader)["spec"]
        for version in spec["versions"]:
            key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
            schemas[key] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1 reads a bare `=` (an enum value in the CRDs) as a special tag: keep it text."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    open_ended = "additionalProperties" in node or node.get("x-kubernetes-preserve-unknown-fields")
    if node.get("type") == "object" and "properties" in node and not open_ended:
        node["additionalProperties"] = False
    return node
