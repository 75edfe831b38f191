"""Static checks of the CI workflows and the kind cluster: actionlint, pins, failure dumps."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def workflow(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text()))


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def test_actionlint_finds_nothing_in_any_workflow() -> None:
    actionlint = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if actionlint is None:
        pytest.fail("actionlint not found: `make install` installs it (dev dependency).")
    result = subprocess.run(
        [actionlint, "-no-color", *map(str, WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_release(path: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)", path.read_text())
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", action), action


def test_the_workflows_use_the_repositorys_uv_and_kind() -> None:
    uv_pin = re.search(r"ARG UV_VERSION=(\S+)", (ROOT / "Dockerfile.base").read_text())
    assert uv_pin is not None
    for path in WORKFLOWS:
        assert yaml.safe_load(path.read_text())["env"]["UV_VERSION"] == uv_pin[1], path.name
    kind_config = (ROOT / "k8s" / "kind.yaml").read_text()
    node = yaml.safe_load(kind_config)["nodes"][0]["image"]
    assert re.fullmatch(r"kindest/node:v[\d.]+@sha256:[0-9a-f]{64}", node)
    kind_version = workflow("e2e-kind.yml")["env"]["KIND_VERSION"]
    assert f"kind {kind_version}" in kind_config, "the node image must be built for that kind"


def test_ci_lints_tests_with_postgres_and_redis_and_checks_the_charts() -> None:
    jobs = workflow("ci.yml")["jobs"]
    assert {"lint", "tests", "charts"} <= set(jobs)
    services = jobs["tests"]["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["postgres"]["ports"] == ["5432:5432"]
    assert services["redis"]["image"] == "redis:7"
    assert services["redis"]["ports"] == ["6379:6379"]
    commands = {name: " ".join(s.get("run", "") for s in steps(job)) for name, job in jobs.items()}
    assert "make lint typecheck" in commands["lint"]
    assert "make test" in commands["tests"]
    assert "scripts/ensure-tools.sh" in commands["tests"]
    assert "tests/charts" in commands["charts"]


def test_e2e_kind_deploys_tests_and_dumps_the_cluster_on_failure() -> None:
    job = workflow("e2e-kind.yml")["jobs"]["kind"]
    kind = next(s for s in steps(job) if s.get("uses", "").startswith("helm/kind-action@"))
    assert kind["with"]["config"] == "k8s/kind.yaml"
    commands = " ".join(s.get("run", "") for s in steps(job) if "if" not in s)
    for target in ("make images", "make kind-load", "make deploy", "make e2e-kind"):
        assert target in commands, target
    dump = next(s for s in steps(job) if s.get("if") == "failure()")["run"]
    for command in ("kubectl get all -A", "kubectl describe pods", "kubectl logs", "events"):
        assert command in dump, command


def test_e2e_kind_proves_jaeger_prometheus_and_grafana_show_the_saga() -> None:
    job = workflow("e2e-kind.yml")["jobs"]["kind"]
    runs = [s["run"] for s in steps(job) if "run" in s and "if" not in s]
    order = [
        "make observability-up",
        'make deploy OBSERVED=1 IMAGE_TAG="$IMAGE_TAG"',
        "make e2e-kind",
        "make verify-observability",
    ]
    found = [next(i for i, run in enumerate(runs) if command in run) for command in order]
    assert found == sorted(found), runs  # the stack before the saga, the proof last
    assert any(s.get("uses", "").startswith("azure/setup-helm@") for s in steps(job))
    assert job["timeout-minutes"] >= 60  # the upstream images are pulled in the job
    room = next(run for run in runs if "rm -rf" in run)
    assert runs.index(room) < next(i for i, run in enumerate(runs) if "make images" in run)
    dumps = " ".join(s["run"] for s in steps(job) if s.get("if") == "failure()")
    for command in ("kubectl -n observability get pods", "kubectl -n observability logs"):
        assert command in dumps, command
    assert "--all-containers" in dumps and ".local/verify-observability.log" in dumps
