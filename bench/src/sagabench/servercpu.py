"""CPU of the servers a run uses, and only of those: the Redis at redis_url, the Postgres
at database_url (its postmaster and every backend it forked, live or exited).

Summing every `postgres` or `redis-server` process of the machine counted other people's
servers too (one exiting mid-window once gave a negative cost per saga). Redis tells its
own CPU (`INFO cpu`); for Postgres the postmaster is found (its `postmaster.pid`, else the
parent of this connection's backend) and read from /proc. A server on another machine or
in another pid namespace has no such process here: its CPU is None, with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis as redis_sync
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/<pid>/stat this module needs (times in clock ticks)."""

    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int


def parse_stat(raw: str) -> Stat:
    """Parse /proc/<pid>/stat; the command name may hold spaces and parentheses."""
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return Stat(comm, int(fields[1]), utime, stime, cutime, cstime)


class Proc:
    """Reads a /proc tree (a fake one in tests)."""

    def __init__(self, root: Path = Path("/proc")) -> None:
        self.root = root

    def stat(self, pid: int) -> Stat | None:
        """The process's stat, None if there is no such process."""
        try:
            return parse_stat((self.root / str(pid) / "stat").read_text())
        except (OSError, ValueError, IndexError):
            return None

    def pids(self) -> list[int]:
        """Every process id."""
        return [int(entry.name) for entry in self.root.iterdir() if entry.name.isdigit()]


def tree_cpu_seconds(pid: int, proc: Proc) -> float | None:
    """A server's CPU: its own, its waited-for children's, its live children's.

    The postmaster waits for every backend it forks, so an exited backend's time is in
    the postmaster's cutime/cstime; a live one's is in its own utime/stime.
    """
    own = proc.stat(pid)
    if own is None:
        return None
    ticks = own.utime + own.stime + own.cutime + own.cstime
    for child in proc.pids():
        stat = proc.stat(child)
        if stat is not None and stat.ppid == pid:
            ticks += stat.utime + stat.stime
    return ticks / TICK


def find_postmaster(
    data_directory: str | None, backend_pid: int, proc: Proc
) -> tuple[int | None, str]:
    """The postmaster's pid on this machine and how it was found, or None and why not.

    The backend serving our connection must be a local `postgres` process whose parent
    is the postmaster: else the server lives elsewhere (or in another pid namespace)
    and any pid it names here would be someone else's process.
    """
    backend = proc.stat(backend_pid)
    if backend is None or backend.comm != "postgres":
        return None, f"backend pid {backend_pid} is not a local postgres process"
    parent = proc.stat(backend.ppid)
    if parent is None or parent.comm != "postgres":
        return None, f"the parent of backend {backend_pid} is not a local postgres process"
    if data_directory:
        try:
            listed = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            listed = None
        if listed == backend.ppid:
            return listed, f"postmaster pid {listed} ({data_directory}/postmaster.pid)"
    return backend.ppid, f"postmaster pid {backend.ppid} (parent of backend {backend_pid})"


def locate_postgres(database_url: str, proc: Proc | None = None) -> tuple[int | None, str]:
    """Ask the server at database_url for its data directory and our backend's pid."""
    engine = create_engine(make_url(database_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            backend = int(conn.scalar(text("SELECT pg_backend_pid()")) or 0)
            try:
                directory = conn.scalar(text("SHOW data_directory"))
            except Exception:  # not a superuser nor pg_read_all_settings: use the parent
                directory = None
            return find_postmaster(directory, backend, proc or Proc())
    finally:
        engine.dispose()


def redis_cpu_from_info(info: dict[str, Any]) -> float:
    """used_cpu_{sys,user} of the server plus those of its children (forks for saving)."""
    keys = ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children")
    return sum(float(info.get(key, 0.0)) for key in keys)


def redis_cpu(redis_url: str) -> float:
    """CPU seconds the Redis server at redis_url has used since it started."""
    client = redis_sync.Redis.from_url(redis_url)
    try:
        return redis_cpu_from_info(client.info("cpu"))
    finally:
        client.close()


class ServerCpu:
    """The CPU seconds so far of a run's Postgres and Redis (None: not measurable here)."""

    def __init__(self, database_url: str, redis_url: str, proc: Proc | None = None) -> None:
        self.redis_url = redis_url
        self.proc = proc or Proc()
        self.postmaster, self.postgres_source = locate_postgres(database_url, self.proc)

    def postgres(self) -> float | None:
        """The postmaster's tree, None if it is not on this machine."""
        if self.postmaster is None:
            return None
        return tree_cpu_seconds(self.postmaster, self.proc)

    def redis(self) -> float:
        """What the server itself reports."""
        return redis_cpu(self.redis_url)
