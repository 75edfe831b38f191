"""The system under test: private Postgres and Redis, the five services, and two proxies.

One service (`CUT_SERVICE`) reaches Postgres and Redis through proxies of the suite's own,
so a row can cut its links. Every event is signed (a keyring made for the run) and every
request carries a dev token, as deployed. Nothing here touches the machine's shared servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url

from sagabench.faults.proxy import CuttableProxy
from sagabench.faults.servers import PrivatePostgres, PrivateRedis
from sagactl.auth import DevTokens
from sagactl.backends import Backends
from sagactl.client import SERVICES
from sagactl.devstack import Stack, dev_key
from sagakit.keyring import Keyring
from sagakit.testing import free_ports

CUT_SERVICE = "payment"
SERVICE_ENV = {
    "LOG_LEVEL": "WARNING",
    "OTEL_SDK_DISABLED": "true",
    "CLAIM_IDLE_MS": "2000",
    "RELAY_POLL_SECONDS": "0.5",
    "REDIS_WAIT_SECONDS": "120",
    "DOCS_ENABLED": "true",
    # Sagas a fault stopped (Pub/Sub: a subscriber that was down; Redis that forgot) are
    # reconciled after 10 s instead of 2 min, so every row ends within the run.
    "RECONCILE_AFTER_SECONDS": "10",
    "RECONCILE_INTERVAL_SECONDS": "2",
    "DEADLINE_SWEEP_SECONDS": "1",
}


@dataclass
class Rig:
    """Servers, proxies and the stack of one transport."""

    folder: Path
    transport: str
    postgres: PrivatePostgres
    redis: PrivateRedis
    proxies: dict[str, CuttableProxy] = field(default_factory=dict)
    stack: Stack | None = None
    key_file: Path | None = None

    @property
    def services(self) -> Stack:
        assert self.stack is not None, "the rig is not up"
        return self.stack

    def tokens(self) -> DevTokens:
        assert self.key_file is not None
        return DevTokens.from_file(self.key_file, ttl_seconds=7200)

    def database_url(self, service: str) -> str:
        """The service's database, straight to the server (never through a proxy)."""
        url = make_url(self.postgres.url).set(database=f"faults_{service}")
        return url.render_as_string(hide_password=False)

    async def restart(self, name: str, signum: int, env: dict[str, str] | None = None) -> None:
        """Signal one service, wait for its exit, start it again (with `env`) until ready."""
        await self.services.kill(name, signum)
        await self.services.start(name, env)
        if not await self.services.wait_ready((name,), timeout=120):
            raise RuntimeError(f"{name} did not come back; logs in {self.folder}")


async def up(transport: str) -> Rig:
    """Start everything; the caller must `down()` it (also when this raises)."""
    folder = Path(tempfile.mkdtemp(prefix="saga-faults-"))
    rig = Rig(folder, transport, PrivatePostgres(folder), PrivateRedis(folder))
    try:
        await asyncio.to_thread(rig.postgres.start)
        await rig.redis.start(aof=True)
        for server, port in (("postgres", rig.postgres.port), ("redis", rig.redis.port)):
            rig.proxies[server] = CuttableProxy(port)
            await rig.proxies[server].start()
        rig.key_file = dev_key(folder / "dev-signing-key.pem")
        keyring = Keyring.generate()
        env = {name: keyring.env(name) for name in SERVICES}
        cut = make_url(rig.database_url(CUT_SERVICE)).set(port=rig.proxies["postgres"].port)
        env[CUT_SERVICE] |= {
            "DATABASE_URL": cut.render_as_string(hide_password=False),
            "REDIS_URL": f"redis://127.0.0.1:{rig.proxies['redis'].port}/0",
        }
        logs = folder / "logs"
        logs.mkdir()

        def sink(name: str, line: str) -> None:
            with (logs / f"{name}.log").open("a") as out:
                out.write(line + "\n")

        prefix = f"faults-{uuid.uuid4().hex[:6]}."
        rig.stack = Stack(
            Backends(rig.postgres.url, rig.redis.url),
            {**SERVICE_ENV, "EVENT_TRANSPORT": transport, "EVENT_PREFIX": prefix},
            ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
            database_prefix="faults_",
            sink=sink,
            dev_key_file=rig.key_file,
            service_env=env,
        )
        await rig.stack.start_all()
        if not await rig.stack.wait_ready(timeout=180):
            raise RuntimeError(f"the services did not become ready; logs in {logs}")
    except BaseException:
        await down(rig, keep=True)
        raise
    return rig


async def down(rig: Rig, keep: bool = False) -> None:
    """Stop the services, the proxies and the servers; remove the folder unless `keep`."""
    if rig.stack is not None:
        await rig.stack.stop()
    for proxy in rig.proxies.values():
        await proxy.close()
    await rig.redis.stop()
    with contextlib.suppress(subprocess.CalledProcessError):  # already down
        await asyncio.to_thread(rig.postgres.stop)
    if not keep:
        shutil.rmtree(rig.folder, ignore_errors=True)
