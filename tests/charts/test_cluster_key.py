"""`make cluster-key` copies the dev key the rendered pods mount, with a kubectl fake.

The fake answers the three questions the recipe asks (which Deployment is booking's,
which Secret and key it mounts as the dev key, that key's data) from a render of the
chart, so the recipe's selectors, JSONPath and file handling meet what the chart makes.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from chartkit import ROOT, values_of

FAKE_KUBECTL = r"""
import json, re, sys
objects = json.load(open(sys.argv[1]))
args = sys.argv[2:]
kind, name = args[args.index("get") + 1].partition("/")[::2]
output = args[args.index("-o") + 1] if "-o" in args else ""
def matches(obj, selector):
    labels = obj["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in (p.split("=", 1) for p in selector.split(",")))
if "-l" in args:
    selector = args[args.index("-l") + 1]
    found = [o for o in objects if o["kind"].lower() == kind and matches(o, selector)]
    print("\n".join(f"{kind}.apps/{o['metadata']['name']}" for o in found))
    sys.exit(0)
name = name or args[args.index("get") + 2]
kind = "deployment" if kind.startswith("deployment") else kind
(obj,) = [o for o in objects if o["kind"].lower() == kind and o["metadata"]["name"] == name]
path = output.removeprefix("jsonpath={").removesuffix("}")
volume = re.fullmatch(
    r'\.spec\.template\.spec\.volumes\[\?\(@\.name=="([^"]+)"\)\]\.secret\.(.+)', path
)
if volume:
    found = [v for v in obj["spec"]["template"]["spec"]["volumes"] if v["name"] == volume[1]]
    secret = found[0]["secret"] if found else {}
    item = secret.get("items", [{}])[0].get("key")
    value = secret.get("secretName") if volume[2] == "secretName" else item
    print(value or "", end="")
else:
    key = re.fullmatch(r"\.data\.(.+)", path)[1].replace("\\.", ".")
    print(obj["data"].get(key, ""), end="")
"""


def run_cluster_key(
    tmp_path: Path, objects: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    dump = tmp_path / "objects.json"
    dump.write_text(json.dumps(objects))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fake_kubectl.py").write_text(FAKE_KUBECTL)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(
        f'#!/bin/sh\nexec {sys.executable} {bin_dir / "fake_kubectl.py"} {dump} "$@"\n'
    )
    kubectl.chmod(0o755)
    key = tmp_path / "auth" / "cluster-key.pem"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(
        ["make", "--no-print-directory", "cluster-key", f"CLUSTER_KEY={key}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_key_the_pods_mount_is_copied_owner_only(
    tmp_path: Path, rendered: dict[str, Any]
) -> None:
    render = rendered["kind"]
    done = run_cluster_key(tmp_path, render.objects)
    assert done.returncode == 0, done.stdout + done.stderr
    key = tmp_path / "auth" / "cluster-key.pem"
    secret = render.get("Secret", "saga-dev-auth")["data"]["dev-signing-key.pem"]
    assert key.read_bytes() == base64.b64decode(secret)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert f"export SAGA_DEV_KEY_FILE={key}" in done.stdout


def test_an_existing_secret_is_found_through_the_deployment(
    tmp_path: Path, render_values: Any
) -> None:
    values = values_of("kind")
    values["auth"]["dev"].update(existingSecret="my-key", existingSecretKey="signing.pem")
    render = render_values(values)
    mine = {"kind": "Secret", "metadata": {"name": "my-key"}, "data": {"signing.pem": "UEVN"}}
    done = run_cluster_key(tmp_path, [*render.objects, mine])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "auth" / "cluster-key.pem").read_bytes() == b"PEM"


def test_an_oidc_release_has_no_key_to_copy(tmp_path: Path, rendered: dict[str, Any]) -> None:
    done = run_cluster_key(tmp_path, rendered["production"].objects)
    assert done.returncode != 0
    assert "does not run auth.mode=dev" in done.stderr and "SAGA_TOKEN" in done.stderr
    assert not (tmp_path / "auth" / "cluster-key.pem").exists()


def test_no_release_says_to_deploy(tmp_path: Path) -> None:
    done = run_cluster_key(tmp_path, [])
    assert done.returncode != 0
    assert "no saga release saga in namespace saga (make deploy)" in done.stderr
