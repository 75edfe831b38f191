"""Find Postgres and Redis for `sagactl up`, or start private ones from the binaries on PATH.

Order: DATABASE_URL / REDIS_URL when set; else the default local ports when
something answers there; else private servers under `.local/` (git-ignored)
on ports 55432 and 56379 (or free ones), stopped again when `up` exits.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

INSTALL_HINT = {
    "postgres": "install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; "
    "macOS: `brew install postgresql@15`) or set DATABASE_URL",
    "redis": "install Redis (Debian/Ubuntu: `apt-get install redis-server`; "
    "macOS: `brew install redis`) or set REDIS_URL",
}


class MissingServer(RuntimeError):
    """No server answers and none can be started here."""


class Embedded(Protocol):
    """A private server process `up` started and must stop."""

    def stop(self) -> None: ...


@dataclass
class Backends:
    """Where the services find their servers."""

    database_url: str
    redis_url: str
    started: list[Embedded] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the private servers, newest first."""
        for server in reversed(self.started):
            server.stop()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Does something accept TCP connections there?"""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A port nothing is bound to on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pick_port(preferred: int) -> int:
    """`preferred` when nothing answers there, else any free port."""
    return preferred if not port_open(preferred) else free_port()


def find_binary(name: str) -> str | None:
    """A server binary on PATH, or in Debian's versioned PostgreSQL folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def resolve(root: Path, force_embedded: bool = False) -> Backends:
    """Decide (and if needed start) the database and Redis servers."""
    backends = Backends(database_url="", redis_url="")
    try:
        backends.database_url = os.environ.get("DATABASE_URL", "")
        if not backends.database_url:
            if not force_embedded and port_open(5432):
                backends.database_url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
            else:
                server = EmbeddedPostgres(root / "postgres", pick_port(55432))
                backends.database_url = server.start()
                backends.started.append(server)
        backends.redis_url = os.environ.get("REDIS_URL", "")
        if not backends.redis_url:
            if not force_embedded and port_open(6379):
                backends.redis_url = "redis://127.0.0.1:6379/0"
            else:
                redis = EmbeddedRedis(root / "redis", pick_port(56379))
                backends.redis_url = redis.start()
                backends.started.append(redis)
    except BaseException:
        backends.stop()
        raise
    return backends


class EmbeddedPostgres:
    """A throwaway cluster in a folder; trust auth on 127.0.0.1 only."""

    start_attempts = 3  # each on a new free port after the first

    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self._as_user = _unprivileged_prefix()

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, *args],
            check=True,
            capture_output=True,
            text=True,
            start_new_session=True,
        )

    def start(self) -> str:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise MissingServer(
                f"Postgres is not running on 127.0.0.1:5432: {INSTALL_HINT['postgres']}"
            )
        self.data.mkdir(parents=True, exist_ok=True)
        _hand_over(self.data.parent, self.data)
        if not (self.data / "PG_VERSION").exists():
            self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        log = self.data / "server.log"
        for attempt in range(1, self.start_attempts + 1):
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
            try:
                self._run(
                    pg_ctl, "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start"
                )
                return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
            except subprocess.CalledProcessError as exc:
                # A port free when probed can be taken before the postmaster binds it
                # (or bound by a socket that does not listen): try another one.
                said = f"{exc.stdout}{exc.stderr}".strip()
                if attempt == self.start_attempts:
                    raise MissingServer(
                        f"Postgres did not start on 127.0.0.1:{self.port}: {said}\n"
                        f"{log}:\n{_tail(log)}"
                    ) from exc
                self.port = free_port()
        raise AssertionError("unreachable")

    def stop(self) -> None:
        pg_ctl = find_binary("pg_ctl")
        if pg_ctl:
            self._run(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")


class EmbeddedRedis:
    """A Redis that keeps nothing on disk."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        binary = find_binary("redis-server")
        if not binary:
            raise MissingServer(f"Redis is not running on 127.0.0.1:6379: {INSTALL_HINT['redis']}")
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.folder)]
        log = (self.folder / "server.log").open("ab")
        self._process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise MissingServer(f"redis-server did not start; see {self.folder}/server.log")
            time.sleep(0.05)
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


def _unprivileged_prefix() -> list[str]:
    # Postgres refuses to run as root; run it as the `postgres` user instead.
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise MissingServer(
            "running as root, and Postgres cannot run as root: create a `postgres` user, "
            "run as a normal user, or set DATABASE_URL"
        ) from exc
    return ["runuser", "-u", "postgres", "--"]


def _hand_over(*folders: Path) -> None:
    if os.geteuid() == 0:
        for folder in folders:
            shutil.chown(folder, user="postgres", group=None)


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(unreadable: {exc})"
