"""Building the saga's images without a Docker engine: buildah, on a debootstrapped Debian.

The Python image under everything is Debian bookworm (`debootstrap --variant=minbase`)
with python3 (3.11, as in python:3.11-slim-bookworm, Dockerfile.base's default) and
python3-venv, plus the host's CA bundle so pip and uv inside the builds trust the same
registries as the host. Its rootfs tarball is cached under .local/images/ and the
imported image stays in buildah's store, so only the first run pays for debootstrap.
The images themselves are built by scripts/build-images.sh, as `make images` does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("booking", "manager", "billing", "payment", "invoice")
IMAGE_PREFIX = "localhost/saga-test/"
IMAGE_TAG = "test"
CACHE = ROOT / ".local" / "images"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBOOTSTRAP = ("debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm")
# Package caches and documentation: nothing an image needs.
TRIMMED = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
)
TOOLS = ("buildah", "runc", "debootstrap")
INSTALL_HINT = "Run scripts/ensure-tools.sh (as root) to install buildah, runc and debootstrap."
# chroot: no OCI runtime or network setup inside the build; the host's network.
BUILD_FLAGS = ("--isolation", "chroot", "--network", "host")


def run(*args: str, timeout: float = 600) -> str:
    """Run a command; fail the test with its output when it fails. Returns stdout."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        pytest.fail(f"`{' '.join(args)}` exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result.stdout


def require_container_tools() -> None:
    """Fail, saying what to run, unless buildah, runc and debootstrap are here and we are root."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found. {INSTALL_HINT}")
    if os.geteuid() != 0:
        pytest.fail("The image tests need root (debootstrap, buildah, runc): run them as root.")


def bookworm_image() -> str:
    """The debootstrapped Python base in buildah's store, built or imported when missing."""
    recipe = " ".join((*DEBOOTSTRAP, MIRROR, *TRIMMED)).encode() + HOST_CA_BUNDLE.read_bytes()
    key = hashlib.sha256(recipe).hexdigest()[:12]
    name = f"{IMAGE_PREFIX}bookworm-python3:{key}"
    if subprocess.run(("buildah", "inspect", name), capture_output=True, check=False).returncode:
        tarball = CACHE / f"bookworm-python3-{key}.tar"
        if not tarball.exists():
            debootstrap(tarball)
        import_rootfs(tarball, name)
    return name


def debootstrap(tarball: Path) -> None:
    """Debootstrap a minimal bookworm with python3 into `tarball` (written atomically)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        rootfs = Path(scratch) / "rootfs"
        run(*DEBOOTSTRAP, str(rootfs), MIRROR, timeout=900)
        for folder in TRIMMED:
            shutil.rmtree(rootfs / folder)
            (rootfs / folder).mkdir()
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
        partial = Path(scratch) / "rootfs.tar"
        excluded = ("--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*")
        run("tar", "--numeric-owner", *excluded, "-C", str(rootfs), "-cf", str(partial), ".")
        partial.rename(tarball)


def import_rootfs(tarball: Path, name: str) -> None:
    """Turn a rootfs tarball into image `name`, configured like an official Python image."""
    container = run("buildah", "from", "scratch").strip()
    try:
        run("buildah", "add", container, str(tarball), "/")
        run(
            "buildah",
            "config",
            "--env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env",
            f"SSL_CERT_FILE={HOST_CA_BUNDLE}",
            "--cmd",
            "python3",
            container,
        )
        run("buildah", "commit", container, name)
    finally:
        subprocess.run(("buildah", "rm", container), capture_output=True, check=False)


def image(name: str) -> str:
    """The reference of one image this suite builds."""
    return f"{IMAGE_PREFIX}{name}:{IMAGE_TAG}"


def build_images() -> dict[str, str]:
    """Build base-uv, base and the five services with scripts/build-images.sh and buildah."""
    require_container_tools()
    env = {
        **os.environ,
        "BUILDER": "buildah",
        "IMAGE_PREFIX": IMAGE_PREFIX,
        "IMAGE_TAG": IMAGE_TAG,
        "BASE_IMAGE": bookworm_image(),
        "BUILD_FLAGS": " ".join(BUILD_FLAGS),
    }
    build = subprocess.run(
        (str(ROOT / "scripts/build-images.sh"), "build"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"scripts/build-images.sh failed:\n{(build.stdout + build.stderr)[-6000:]}")
    return {name: image(name) for name in ("base", "base-uv", *SERVICES)}


def build_service(images: dict[str, str], service: str | None) -> subprocess.CompletedProcess[str]:
    """Build services/Dockerfile on this suite's base for `service` (None: no SERVICE)."""
    args = ["buildah", "bud", "--layers", "--force-rm", *BUILD_FLAGS, "-f", "services/Dockerfile"]
    args += ["--build-arg", f"BASE_IMAGE={images['base']}"]
    args += ["--build-arg", f"UV_IMAGE={images['base-uv']}"]
    args += [] if service is None else ["--build-arg", f"SERVICE={service}"]
    return subprocess.run(
        [*args, "."], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
