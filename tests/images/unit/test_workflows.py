"""Static checks of the CI workflows and the kind cluster: actionlint, pins, failure dumps."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
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
    # Without shellcheck, actionlint skips the `run:` scripts without a word.
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck not found: `make tools` installs it (Debian package shellcheck).")
    result = subprocess.run(
        [actionlint, "-no-color", f"-shellcheck={shellcheck}", *map(str, WORKFLOWS)],
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


def commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def files_tested_by(job: dict[str, Any]) -> list[Path]:
    """The test files a job's commands run: `make test` runs pytest's testpaths."""
    if re.search(r"\bmake test(\s|$)", commands(job), flags=re.MULTILINE):
        config = tomllib.loads((ROOT / "pyproject.toml").read_text())
        folders = config["tool"]["pytest"]["ini_options"]["testpaths"]
    else:
        arguments = re.findall(r"\bpytest\b([^\n;&|]*)", commands(job))
        folders = [arg for args in arguments for arg in args.split() if not arg.startswith("-")]
    return [test for folder in folders for test in sorted((ROOT / folder).rglob("test_*.py"))]


def test_ci_lints_tests_as_root_and_checks_the_charts() -> None:
    jobs = workflow("ci.yml")["jobs"]
    assert {"lint", "tests", "charts"} <= set(jobs)
    assert "make lint typecheck" in commands(jobs["lint"])
    # make test installs its own tools (Debian packages) and builds images: it runs as root.
    assert 'sudo --preserve-env env "PATH=$PATH" make test' in commands(jobs["tests"])
    assert "pytest tests/charts" in commands(jobs["charts"])
    charts = files_tested_by(jobs["charts"])
    assert ROOT / "tests/charts/integration/test_postgres_initdb.py" in charts
    assert set(charts) < set(files_tested_by(jobs["tests"]))


def chart_image(chart: str) -> str:
    """The image a server chart runs: <repository>:<tag>@<digest>."""
    image = yaml.safe_load((ROOT / "charts" / chart / "values.yaml").read_text())["image"]
    return f"{image['repository']}:{image['tag']}@{image['digest']}"


def test_ci_audits_every_locked_dependency_with_pip_audit() -> None:
    job = workflow("ci.yml")["jobs"]["audit"]
    assert "if" not in job  # on every push and pull request, like the tests
    run = commands(job)
    export = re.search(r"uv export ([^\n]*(?:\\\n[^\n]*)*)", run)
    assert export is not None, run
    for flag in ("--frozen", "--all-packages", "--all-groups", "--no-emit-workspace"):
        assert flag in export[1], flag
    audit = run[run.index("pip-audit \\") :]
    for flag in ("--strict", "--require-hashes", "--disable-pip", "--requirement"):
        assert flag in audit, flag
    assert "--no-hashes" not in export[1]  # --require-hashes needs them
    # A pinned pip-audit, on the images' Python (markers choose the same packages).
    assert re.fullmatch(r"\d+\.\d+\.\d+", workflow("ci.yml")["env"]["PIP_AUDIT_VERSION"])
    assert '--from "pip-audit==$PIP_AUDIT_VERSION"' in run
    assert '--python "$PYTHON_VERSION"' in run


@pytest.mark.parametrize("name", sorted(workflow("ci.yml")["jobs"]))
def test_a_ci_job_that_runs_integration_tests_has_the_servers_and_psql(name: str) -> None:
    job = workflow("ci.yml")["jobs"][name]
    tests = [test for test in files_tested_by(job) if {"integration", "e2e"} & set(test.parts)]
    services = job.get("services", {})
    if tests:
        postgres = services.get("postgres", {})
        # The servers the chart runs, pulled by the same digest.
        assert postgres.get("image") == chart_image("postgres"), f"{name}: {tests[0]} needs it"
        assert postgres["ports"] == ["5432:5432"]
        assert postgres["env"] == {"POSTGRES_HOST_AUTH_METHOD": "trust"}
        assert "pg_isready" in postgres["options"], "the job starts once Postgres is ready"
    if any("tests/charts" not in str(test) for test in tests):
        assert services["redis"]["image"] == chart_image("redis"), name
        assert services["redis"]["ports"] == ["6379:6379"]
    if any("psql" in test.read_text() for test in tests):
        # make test installs psql itself (scripts/ensure-tools.sh); other jobs say so.
        assert re.search(r"make test(\s|$)|psql", commands(job)), f"{name} needs psql"


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
