"""`sagactl up`: run the five services as processes (each migrates first), logs prefixed.

The end-to-end tests drive the same `Stack` (other ports, other databases,
logs to files) so what they prove is what `make up` runs. With a dev key the services
run with AUTH_MODE=dev and verify tokens signed with it (`Stack.client()` signs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import make_url

from sagactl.auth import DevTokens
from sagactl.backends import Backends
from sagactl.client import PORTS, SERVICES, Endpoints, SagaClient
from sagactl.eventsecurity import prepare_local
from sagactl.terminal import plain
from sagakit import devauth

COLORS = ("36", "35", "33", "32", "34", "31")
Sink = Callable[[str, str], None]


def dev_key(path: Path) -> Path:
    """The dev signing key at `path` (created, owner-only, if missing), as an absolute path."""
    return devauth.ensure_key(path.expanduser()).resolve()


def dev_auth_env(key_file: Path) -> dict[str, str]:
    """What makes a service verify tokens signed with the dev key (sagakit.devauth)."""
    return {"AUTH_MODE": "dev", "AUTH_DEV_KEY_FILE": str(key_file.resolve())}


def print_line(name: str, line: str) -> None:
    """Write one log line prefixed (and coloured on a terminal) by its service."""
    label = f"{name:<8}|"
    if sys.stdout.isatty():
        color = COLORS[(SERVICES.index(name) if name in SERVICES else 5)]
        label = f"\033[{color}m{label}\033[0m"
    sys.stdout.write(f"{label} {plain(line)}\n")  # a log line may quote what a client sent
    sys.stdout.flush()


class Stack:
    """Starts, watches, kills and stops the service processes."""

    def __init__(
        self,
        backends: Backends,
        extra_env: Mapping[str, str],
        *,
        ports: Mapping[str, int] = PORTS,
        database_prefix: str = "",
        sink: Sink = print_line,
        dev_key_file: Path | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.backends = backends
        self.dev_key_file = dev_key_file
        self.extra_env = {**extra_env, **(dev_auth_env(dev_key_file) if dev_key_file else {})}
        # Per service: its keys and Redis user (sagactl.eventsecurity), over the rest.
        self.service_env = {name: dict(env) for name, env in (service_env or {}).items()}
        self.ports = dict(ports)
        self.database_prefix = database_prefix
        self.sink = sink
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self._pumps: list[asyncio.Task[None]] = []

    def endpoints(self) -> Endpoints:
        """Base URLs of this stack's services."""
        urls = {f"{name}_url": f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        return Endpoints.model_validate(urls)

    def client(self, timeout: float = 5.0) -> SagaClient:
        """A client of this stack that signs its tokens with the stack's dev key."""
        tokens = DevTokens.from_file(self.dev_key_file) if self.dev_key_file else None
        return SagaClient(self.endpoints(), timeout, tokens=tokens)

    def env(self, name: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of one service: its own database on the shared server."""
        database = make_url(self.backends.database_url).set(database=self.database_prefix + name)
        env = {**os.environ, **self.extra_env, **(overrides or {})}
        env.update(
            DATABASE_URL=database.render_as_string(hide_password=False),
            REDIS_URL=self.backends.redis_url,
            PORT=str(self.ports[name]),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.service_env.get(name, {}))
        return env

    async def start(self, name: str, overrides: Mapping[str, str] | None = None) -> None:
        """Start one service (it creates and migrates its database first) and pump its output."""
        process = await _spawn(name, self.env(name, overrides))
        self.processes[name] = process
        self._pumps.append(asyncio.create_task(self._pump(name, process)))

    async def start_all(self) -> None:
        """Start the five services."""
        for name in SERVICES:
            await self.start(name)

    async def wait_ready(self, names: tuple[str, ...] = SERVICES, timeout: float = 60.0) -> bool:
        """Wait until the services answer /readyz; False if one died or time ran out."""
        client = SagaClient(self.endpoints())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while loop.time() < deadline:
                if any(self.processes[name].returncode is not None for name in names):
                    return False
                if all([await client.ready(name) for name in names]):
                    return True
                await asyncio.sleep(0.1)
            return False
        finally:
            await client.aclose()

    async def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        """Signal one service and wait for it to exit (SIGKILL: a crash)."""
        process = self.processes[name]
        if process.returncode is None:
            process.send_signal(signum)
        await process.wait()

    async def wait_exit(self, stop: asyncio.Event) -> str | None:
        """Block until asked to stop or a service dies; returns the dead service's name."""
        waits = {asyncio.create_task(p.wait()): name for name, p in self.processes.items()}
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in (*waits, stopper):
            task.cancel()
        dead = [waits[task] for task in done if task in waits]
        return dead[0] if dead else None

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every service, SIGKILL what is left after `grace` seconds."""
        for process in self.processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                process.kill()
                await process.wait()
        for pump in self._pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _pump(self, name: str, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            self.sink(name, raw.decode(errors="replace").rstrip())


async def _spawn(name: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    # A new session keeps Ctrl-C away from the services: `up` stops them in order.
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        name,
        "serve",
        "--migrate",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def run(
    backends: Backends,
    extra_env: dict[str, str],
    base_port: int = 8001,
    dev_key_file: Path | None = None,
    state: Path = Path(".local"),
) -> int:
    """Run the stack until Ctrl-C or SIGTERM; returns the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ports = {name: base_port + index for index, name in enumerate(SERVICES)}
    security = await prepare_local(backends.redis_url, {**os.environ, **extra_env}, state, _say)
    stack = Stack(
        backends,
        extra_env,
        ports=ports,
        dev_key_file=dev_key_file,
        service_env=security.service_env(),
    )
    await stack.start_all()
    code = 0
    try:
        if not await stack.wait_ready():
            print_line("sagactl", "a service did not become ready; stopping")
            return 1
        _banner(ports, dev_key_file)
        code = await _supervise(stack, stop)
    finally:
        print_line("sagactl", "stopping the services")
        await stack.stop()
    return code


RESTARTS = 5  # per service, before `up` gives up and stops the others


async def _supervise(stack: Stack, stop: asyncio.Event) -> int:
    """Restart a service that ended on its own, as Kubernetes would; 0 once asked to stop.

    A service ends itself with a non-zero status when it cannot recover in process (its
    event subscribers stay stopped: docs/reliability.md, "When the broker forgets").
    """
    restarts = dict.fromkeys(stack.processes, 0)
    while (dead := await stack.wait_exit(stop)) is not None:
        status = stack.processes[dead].returncode
        if restarts[dead] >= RESTARTS:
            print_line("sagactl", f"{dead} exited ({status}) {RESTARTS + 1} times; stopping")
            return 1
        restarts[dead] += 1
        print_line("sagactl", f"{dead} exited unexpectedly ({status}); starting it again")
        await stack.start(dead)
    return 0


def _say(line: str) -> None:
    print_line("sagactl", line)


def _banner(ports: Mapping[str, int], dev_key_file: Path | None) -> None:
    print_line("sagactl", "all five services are ready:")
    for name in SERVICES:
        print_line("sagactl", f"  {name:<8} http://127.0.0.1:{ports[name]}/docs")
    if dev_key_file is not None:
        print_line("sagactl", f"dev tokens (AUTH_MODE=dev) are signed with {dev_key_file}:")
        print_line("sagactl", "  sagactl signs its own (`sagactl --as alice book alice 120`)")
    print_line("sagactl", "run `make demo` in another terminal; Ctrl-C stops everything")
