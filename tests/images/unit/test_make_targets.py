"""The container and cluster targets of the Makefile (mk/k8s.mk), dry-run with `make -n`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TARGETS = (
    "images",
    "kind-up",
    "kind-load",
    "deploy",
    "observability-up",
    "grafana-login",
    "cluster-key",
    "port-forward",
    "port-forward-stop",
    "e2e-kind",
    "verify-observability",
    "kind-down",
)


def make(*args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_every_cluster_target_has_a_help_line() -> None:
    mk = (ROOT / "mk" / "k8s.mk").read_text()
    documented = set(re.findall(r"^([\w-]+):[^\n]*## \S", mk, flags=re.MULTILINE))
    assert documented == set(TARGETS)
    listed = {line.split()[1] for line in make("help").splitlines() if line.strip()}
    assert set(TARGETS) <= listed
    assert {"test-e2e", "bench"} <= listed


def test_make_n_shows_the_build_deploy_and_e2e_commands_with_one_tag() -> None:
    commands = make("-n", "images", "deploy", "e2e-kind", "IMAGE_TAG=9.9.9")
    assert "scripts/build-images.sh build" in commands
    assert "helm dependency build charts/saga" in commands
    assert "helm upgrade --install saga charts/saga -n saga --create-namespace" in commands
    assert "-f charts/saga/values/kind.yaml --set global.image.tag=9.9.9 --wait --timeout 10m" in (
        " ".join(commands.split())
    )
    assert "SAGA_BOOKING_URL=http://127.0.0.1:8001" in commands
    assert "SAGA_E2E_TARGET=urls" in commands and "pytest -m cluster tests/e2e" in commands
    assert "sagactl demo" in commands
    assert "helm test saga -n saga" in commands


def test_verify_observability_runs_the_demo_then_the_verifier_on_its_ids() -> None:
    commands = " ".join(make("-n", "verify-observability").split())
    assert "port-forward" in commands  # the services, Jaeger, Grafana and Prometheus
    demo = commands.index("sagactl demo --ids-file .local/demo-bookings.json")
    verify = commands.index("sagactl verify-observability --ids-file .local/demo-bookings.json")
    assert "SAGA_BOOKING_URL=http://127.0.0.1:8001" in commands[:demo] and demo < verify
    # Grafana's random admin password, from its Secret, reaches the verifier in the env.
    assert (
        "get secret -l 'app.kubernetes.io/name=grafana,app.kubernetes.io/component=admin-secret'"
        in commands
    )
    assert "{.items[0].data.admin-password}" in commands
    assert 'GRAFANA_PASSWORD="$password"' in commands
    assert "tee .local/verify-observability.log" in commands and "exit $status" in commands


def test_observability_up_installs_the_pinned_umbrella_offline() -> None:
    # tests/charts/test_observability_make.py checks the command against the charts.
    commands = make("-n", "observability-up")
    assert "helm upgrade --install observability charts/observability" in commands
    assert "helm repo" not in commands


def test_the_build_script_names_the_five_images_from_prefix_and_tag() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-images.sh"), "list"],
        env={**os.environ, "IMAGE_PREFIX": "registry.example/saga/", "IMAGE_TAG": "1.2.3"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [
        f"registry.example/saga/{name}:1.2.3"
        for name in ("booking", "manager", "billing", "payment", "invoice")
    ]


def test_make_test_first_installs_and_starts_what_the_tests_need_as_root() -> None:
    commands = [line.strip() for line in make("-n", "test").splitlines()]
    setup = [
        next(i for i, line in enumerate(commands) if '[ "$(id -u)" = 0 ]' in line),
        commands.index("scripts/ensure-tools.sh --quiet"),
        commands.index("scripts/ensure-servers.sh --quiet"),
        next(i for i, line in enumerate(commands) if line.endswith("sync --frozen --all-packages")),
        next(i for i, line in enumerate(commands) if line.endswith("run --frozen pytest")),
    ]
    assert setup == sorted(setup), "root, tools, servers, then the tests"
    for target in ("test-unit", "test-integration", "test-e2e"):
        assert "ensure-tools" not in make("-n", target), f"{target} installs nothing"


def test_the_tools_script_names_every_missing_package_when_it_cannot_install(
    tmp_path: Path,
) -> None:
    # A PATH with none of the tools and no apt-get: nothing can be installed.
    for program in ("id", "mktemp", "rm"):
        found = shutil.which(program)
        assert found is not None, program
        (tmp_path / program).symlink_to(found)
    result = subprocess.run(
        ["/bin/bash", str(ROOT / "scripts" / "ensure-tools.sh"), "--quiet"],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (message,) = result.stderr.splitlines()
    named = re.search(
        r"the Debian/Ubuntu packages ([\w -]+), and there is no apt-get here", message
    )
    assert named is not None, message
    # On the PATH alone none of these is found; postgresql and the keyring live elsewhere.
    expected = {
        "postgresql-client",
        "redis-server",
        "prometheus",
        "buildah",
        "runc",
        "debootstrap",
        "shellcheck",
    }
    assert expected <= set(named[1].split()) <= expected | {"postgresql", "debian-archive-keyring"}
    assert f"(sudo apt-get install --no-install-recommends {named[1]})" in message
