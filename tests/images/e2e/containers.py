"""Run an image as Kubernetes would: runc (as under containerd) on a buildah working container.

A container gets a read-only root filesystem (the chart's readOnlyRootFilesystem), a tmpfs
on /tmp (its emptyDir), the Secret volumes the chart mounts (as the kubelet writes them:
owned by root and the pod's fsGroup, read-only), the image's user, entrypoint and
environment plus what the chart adds (`on_this_host`), and the host's network so it
reaches the local Postgres and Redis.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from sagakit.testing import REDIS_URL, database_url

RELEASE = "saga"  # the release name the chart is rendered with


def run(*args: str) -> str:
    """Run a command that must succeed; return its stdout (stderr is in the error)."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` exited {result.returncode}: {result.stderr}")
    return result.stdout


def on_this_host(env: dict[str, str], port: int, database: str, prefix: str) -> dict[str, str]:
    """A container's environment from the rendered chart, its cluster names mapped here.

    The chart's URLs name the in-cluster Services (saga-postgres, saga-redis) with the
    per-service roles and passwords; here they become the local test servers, this run's
    database and no password. The host's network is shared, so each service gets its own
    port and this run's stream prefix. No collector runs here: the SDK is switched off.
    """
    database_host = make_url(env["DATABASE_URL"]).host
    redis_host = urlsplit(env["REDIS_URL"]).hostname
    assert (database_host, redis_host) == (f"{RELEASE}-postgres", f"{RELEASE}-redis"), env
    return {
        **env,
        "DATABASE_URL": database_url(database),
        "REDIS_URL": REDIS_URL,
        "HOST": "127.0.0.1",  # the image's 0.0.0.0 in a pod
        "PORT": str(port),
        "EVENT_PREFIX": prefix,
        "OTEL_SDK_DISABLED": "true",
    }


@dataclass(frozen=True)
class SecretMount:
    """A Secret volume as the kubelet would mount it: a host folder bound read-only."""

    source: Path
    destination: str


def secret_mounts(
    render: Any, spec: dict[str, Any], container: str, into: Path
) -> list[SecretMount]:
    """Write the Secret volumes a container of the rendered pod `spec` mounts under `into`.

    Each file as the kubelet writes it: the volume's items, its defaultMode, owned by root
    and the pod's fsGroup.
    """
    found = next(
        c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == container
    )
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    group = int(spec.get("securityContext", {}).get("fsGroup", 0))
    mounts = []
    for mount in found.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        assert mount.get("readOnly"), f"{container}: {mount['name']} is mounted writable"
        folder = into / f"{container}-{mount['name']}"
        folder.mkdir(parents=True, exist_ok=True)
        data = render.get("Secret", secret["secretName"])["data"]
        items = secret.get("items") or [{"key": key, "path": key} for key in data]
        for item in items:
            path = folder / item["path"]
            path.write_bytes(base64.b64decode(data[item["key"]]))
            os.chown(path, 0, group)
            path.chmod(secret.get("defaultMode", 0o644))
        folder.chmod(0o755)
        mounts.append(SecretMount(folder, mount["mountPath"]))
    return mounts


@dataclass(frozen=True)
class ImageConfig:
    """What an image says about how to run it (its OCI config)."""

    user: str
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    exposed_ports: list[str]
    layers: list[str]


def image_config(reference: str) -> ImageConfig:
    """Read an image's OCI config from buildah's store."""
    oci = json.loads(run("buildah", "inspect", "--type", "image", reference))["OCIv1"]
    config = oci["config"]
    return ImageConfig(
        user=config.get("User", ""),
        entrypoint=config.get("Entrypoint") or [],
        cmd=config.get("Cmd") or [],
        env=dict(item.split("=", 1) for item in config.get("Env", [])),
        exposed_ports=sorted(config.get("ExposedPorts", {})),
        layers=oci["rootfs"]["diff_ids"],
    )


class Container:
    """An image's root filesystem (a buildah working container) and runc containers on it."""

    def __init__(self, service: str, reference: str, workdir: Path, run_id: str) -> None:
        self.service = service
        self.config = image_config(reference)
        self.name = f"saga-img-{run_id}-{service}"
        self.workdir = workdir
        self.log = workdir / f"{service}.log"
        self.working = run("buildah", "from", "--name", self.name, reference).strip()
        self.rootfs = Path(run("buildah", "mount", self.working).strip())
        self.server: subprocess.Popen[bytes] | None = None
        self.server_id = ""

    def bundle(
        self, suffix: str, args: list[str], env: dict[str, str], secrets: list[SecretMount]
    ) -> tuple[str, Path]:
        """An OCI bundle: read-only root, tmpfs /tmp, the Secret volumes, the image's user,
        the host's network."""
        container_id = f"{self.name}-{suffix}"
        path = self.workdir / container_id
        path.mkdir()
        run("runc", "spec", "--bundle", str(path))
        spec = json.loads((path / "config.json").read_text())
        uid, _, gid = self.config.user.partition(":")
        spec["root"] = {"path": str(self.rootfs), "readonly": True}
        spec["process"].update(
            terminal=False,
            args=args,
            env=[f"{key}={value}" for key, value in {**self.config.env, **env}.items()],
            user={"uid": int(uid), "gid": int(gid or uid)},
            cwd="/",
        )
        namespaces = spec["linux"]["namespaces"]
        spec["linux"]["namespaces"] = [ns for ns in namespaces if ns["type"] != "network"]
        tmp = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}  # the emptyDir
        spec["mounts"].append({**tmp, "options": ["nosuid", "nodev", "mode=1777"]})
        for secret in secrets:
            bind = {"destination": secret.destination, "type": "bind", "source": str(secret.source)}
            spec["mounts"].append({**bind, "options": ["rbind", "ro", "nosuid", "nodev"]})
        (path / "config.json").write_text(json.dumps(spec))
        return container_id, path

    def migrate(self, args: list[str], env: dict[str, str], secrets: list[SecretMount]) -> None:
        """Run the chart's init container command (`<service> migrate --wait N`) to the end."""
        container_id, path = self.bundle("migrate", args, env, secrets)
        with self.log.open("ab") as log:
            done = subprocess.run(
                ("runc", "run", "--bundle", str(path), container_id),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            )
        subprocess.run(
            ("runc", "delete", "--force", container_id), capture_output=True, check=False
        )
        assert done.returncode == 0, f"{self.service} migrate failed:\n{self.log_tail()}"

    def serve(self, env: dict[str, str], secrets: list[SecretMount]) -> None:
        """Start the image's own command (entrypoint + cmd) in the background."""
        command = [*self.config.entrypoint, *self.config.cmd]
        container_id, path = self.bundle("serve", command, env, secrets)
        self.server_id = container_id
        with self.log.open("ab") as log:
            self.server = subprocess.Popen(
                ("runc", "run", "--bundle", str(path), container_id),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def exec(self, *args: str, user: str = "") -> subprocess.CompletedProcess[str]:
        """Run a command inside the serving container, as the image's user by default."""
        user = user or (self.config.user if ":" in self.config.user else f"{self.config.user}:0")
        return subprocess.run(
            ("runc", "exec", "--user", user, self.server_id, *args),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def server_process(self) -> Path:
        """The container's first process (PID 1 inside it) in the host's /proc."""
        return Path(f"/proc/{json.loads(run('runc', 'state', self.server_id))['pid']}")

    def server_uid(self) -> int:
        """The real uid of the serving process."""
        status = (self.server_process() / "status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])

    def server_command(self) -> list[str]:
        """The command line of the serving process."""
        return (self.server_process() / "cmdline").read_text().rstrip("\0").split("\0")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return f"--- {self.service} ---\n" + "\n".join(text[-lines:])

    def close(self) -> None:
        if self.server is not None:
            subprocess.run(
                ("runc", "kill", self.server_id, "TERM"), capture_output=True, check=False
            )
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
            subprocess.run(
                ("runc", "delete", "--force", self.server_id), capture_output=True, check=False
            )
        subprocess.run(("buildah", "umount", self.working), capture_output=True, check=False)
        subprocess.run(("buildah", "rm", self.working), capture_output=True, check=False)
