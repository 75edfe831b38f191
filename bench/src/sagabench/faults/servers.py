"""Private Postgres and Redis the suite may restart, wipe and cut (never the shared ones)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from sagactl.backends import EmbeddedPostgres, MissingServer, find_binary, port_open
from sagakit.testing import free_ports


class PrivatePostgres(EmbeddedPostgres):
    """A throwaway cluster in a temp folder on a free port; restarts with fast shutdown."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder / "postgres", free_ports(1)[0])

    def start(self) -> str:
        """initdb once, then start with room for five services' pools and the checks."""
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise MissingServer("initdb/pg_ctl are not installed")
        if not (self.data / "PG_VERSION").exists():
            super().start()  # initdb and a first start
            self._run(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        options += " -c max_connections=400 -c fsync=off"
        log = str(self.data / "server.log")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        return self.url

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    async def stop_fast(self) -> None:
        """`pg_ctl stop -m fast`: every client is disconnected, the server exits."""
        pg_ctl = find_binary("pg_ctl") or "pg_ctl"
        await asyncio.to_thread(self._run, pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")


class PrivateRedis:
    """A redis-server of the suite's own; with AOF (`appendfsync always`) unless told not to."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "redis"
        self.port = free_ports(1)[0]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, aof: bool = True) -> str:
        binary = find_binary("redis-server")
        if not binary:
            raise MissingServer("redis-server is not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--dir", str(self.folder), "--appendonly", "yes" if aof else "no"]
        command += ["--appendfsync", "always"]
        self._process = await asyncio.to_thread(self._spawn, command)
        for _ in range(200):
            if port_open(self.port):
                return self.url
            if self._process.poll() is not None:
                break
            await asyncio.sleep(0.05)
        raise MissingServer(f"redis-server did not start; see {self.folder}/server.log")

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        with (self.folder / "server.log").open("ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)

    async def stop(self, kill: bool = False) -> None:
        """SIGTERM (Redis writes its AOF and exits) or SIGKILL."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill() if kill else process.terminate()
            await asyncio.to_thread(process.wait, 10)

    async def restart(self, down_seconds: float = 1.0) -> None:
        """Stop and start again: with AOF, everything it had comes back."""
        await self.stop()
        await asyncio.sleep(down_seconds)
        await self.start()

    async def come_back_empty(self, down_seconds: float = 1.0) -> None:
        """Killed, its files gone, started again empty (a pod without a volume)."""
        await self.stop(kill=True)
        shutil.rmtree(self.folder / "appendonlydir", ignore_errors=True)
        await asyncio.sleep(down_seconds)
        await self.start()
