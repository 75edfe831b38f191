"""What the machine spent: CPU seconds and peak memory per process, commits, Redis commands,
and the ceilings the same servers reach alone (pgbench, redis-benchmark)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis as redis_sync
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sagabench.servercpu import ServerCpu

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (and of its waited-for children)."""
    try:
        fields = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    total = int(fields[11]) + int(fields[12])
    if children:
        total += int(fields[13]) + int(fields[14])
    return total / TICK


def peak_rss_mb(pid: int) -> float:
    """Highest resident memory of a process so far (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


@dataclass
class Counters:
    """Cumulative counters read before and after a run (server CPU None: not measurable)."""

    commits: int
    redis_commands: int
    postgres_cpu: float | None
    redis_cpu: float | None


def read_counters(
    database_url: str, redis_url: str, database_prefix: str, cpu: ServerCpu
) -> Counters:
    """Transactions committed in the saga's databases, Redis commands, the servers' CPU."""
    engine = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        commits = conn.scalar(
            text(
                "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database WHERE datname LIKE :p"
            ),
            {"p": database_prefix + "%"},
        )
    engine.dispose()
    client = redis_sync.Redis.from_url(redis_url)
    commands = int(client.info("stats")["total_commands_processed"])
    client.close()
    return Counters(int(commits or 0), commands, cpu.postgres(), cpu.redis())


def pgbench_tps(database_url: str, clients: int, seconds: int = 5) -> float:
    """Insert-only commits per second the Postgres server reaches with `clients` clients."""
    url = make_url(database_url)
    binary = shutil.which("pgbench") or "pgbench"
    args = [
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
    ]
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS sagabench_pgbench"))
        conn.execute(text("CREATE DATABASE sagabench_pgbench"))
    admin.dispose()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO inserts (payload) VALUES ('saga');\n")
    setup = "CREATE TABLE inserts (id bigserial PRIMARY KEY, payload text)"
    subprocess.run(["psql", *args, "-q", "-d", "sagabench_pgbench", "-c", setup], check=True)
    run = [binary, *args, "-n", "-c", str(clients), "-j", "2", "-T", str(seconds)]
    output = subprocess.run(
        [*run, "-f", script.name, "sagabench_pgbench"], check=True, capture_output=True, text=True
    ).stdout
    os.unlink(script.name)
    match = re.search(r"tps = ([\d.]+)", output)
    return float(match.group(1)) if match else 0.0


def redis_ops_per_second(redis_url: str, clients: int = 50) -> float:
    """XADD commands per second the Redis server reaches alone."""
    url = make_url(redis_url.replace("redis://", "postgresql://", 1))
    command = ["redis-benchmark", "-h", url.host or "127.0.0.1", "-p", str(url.port or 6379)]
    command += [
        "-q",
        "-n",
        "100000",
        "-c",
        str(clients),
        "XADD",
        "sagabench:ceiling",
        "*",
        "f",
        "v",
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    redis_sync.Redis.from_url(redis_url).delete("sagabench:ceiling")
    match = re.findall(r"([\d.]+) requests per second", output)
    return float(match[-1]) if match else 0.0


def profile(
    pids: dict[str, list[int]], seconds: float, folder: Path, name: str
) -> list[subprocess.Popen[bytes]]:
    """Start py-spy twice on the first process of every service, for the same window:
    a flame graph (<folder>/<name>-<service>.svg) and the collapsed stacks (.txt,
    `frame;frame;... count` lines, what `stacks.summarise` reads).

    Sampling without stopping the process (--nonblocking) keeps the load undisturbed
    and lets the two samplers share the process. Only samples where the process holds
    the GIL count (--gil): without it, uvloop's idle `epoll_wait` counts as busy, about
    half the samples of a quiet service.
    """
    beside = Path(sys.executable).parent / "py-spy"  # the virtualenv's, when not on PATH
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("py-spy is not installed: `uv sync --all-packages` brings it")
    folder.mkdir(parents=True, exist_ok=True)
    formats = {"flamegraph": "svg", "raw": "txt"}
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(group[0]), "--duration", str(int(seconds)),
             "--rate", "100", "--nonblocking", "--gil", "--format", format,
             "--output", str(folder / f"{name}-{service}.{suffix}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for service, group in pids.items()
        for format, suffix in formats.items()
    ]  # fmt: skip
