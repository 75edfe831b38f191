"""The system under test: the five services as processes, one or two replicas of each.

They run with AUTH_MODE=dev and a key made for the run, so every request's token is
really verified (and costs the services what it costs them in production).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sagactl.auth import DevTokens
from sagactl.backends import Backends
from sagactl.client import SERVICES, Endpoints
from sagactl.devstack import Stack, dev_key
from sagakit.keyring import Keyring
from sagakit.testing import free_ports

# Measured without tracing export and with quiet logs: what the pattern costs,
# not what a log pipeline costs. Pass extra env to measure other settings.
SERVICE_ENV = {"LOG_LEVEL": "WARNING", "OTEL_SDK_DISABLED": "true", "CLAIM_IDLE_MS": "5000"}


@dataclass
class Deployment:
    """Stacks sharing databases, streams and consumer groups (replicas of every service)."""

    backends: Backends
    transport: str
    database_prefix: str
    event_prefix: str
    key_file: Path
    stacks: list[Stack] = field(default_factory=list)

    def tokens(self) -> DevTokens:
        """Tokens the services accept: signed with the run's dev key, one per identity."""
        return DevTokens.from_file(self.key_file, ttl_seconds=3600)

    def endpoints(self) -> list[Endpoints]:
        """Base URLs of each replica set."""
        return [stack.endpoints() for stack in self.stacks]

    def pids(self) -> dict[str, list[int]]:
        """Process ids of every service, all replicas."""
        found: dict[str, list[int]] = {name: [] for name in SERVICES}
        for stack in self.stacks:
            for name, process in stack.processes.items():
                found[name].append(process.pid)
        return found

    def database_url(self, service: str) -> str:
        """The URL of one service's database."""
        url = make_url(self.backends.database_url).set(database=self.database_prefix + service)
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


async def deploy(
    backends: Backends, transport: str, replicas: int, logs: Path, extra: dict[str, str]
) -> Deployment:
    """Start `replicas` processes of each service; the first replica migrates."""
    tag = uuid.uuid4().hex[:6]
    key = dev_key(logs / f"{tag}-dev-signing-key.pem")
    deployment = Deployment(backends, transport, f"bench_{tag}_", f"bench-{tag}.", key)
    env = {
        **SERVICE_ENV,
        **extra,
        "EVENT_TRANSPORT": transport,
        "EVENT_PREFIX": deployment.event_prefix,
    }
    # Every event signed and verified, as deployed; the replicas of a service share its key.
    keyring = Keyring.generate()
    keys = {name: keyring.env(name) for name in SERVICES}
    for replica in range(replicas):

        def sink(name: str, line: str, replica: int = replica) -> None:
            with (logs / f"{tag}-{name}-{replica}.log").open("a") as out:
                out.write(line + "\n")

        ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        stack = Stack(
            backends,
            env,
            ports=ports,
            database_prefix=deployment.database_prefix,
            sink=sink,
            dev_key_file=key,
            service_env=keys,
        )
        deployment.stacks.append(stack)
        await stack.start_all()
        if not await stack.wait_ready(timeout=90):
            await teardown(deployment)
            raise RuntimeError(f"replica {replica} did not become ready; logs in {logs}")
    return deployment


async def teardown(deployment: Deployment) -> None:
    """Stop every process, drop the run's databases and its key."""
    for stack in deployment.stacks:
        await stack.stop()
    deployment.key_file.unlink(missing_ok=True)
    admin = create_engine(
        make_url(deployment.backends.database_url).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        for name in SERVICES:
            conn.execute(
                text(f'DROP DATABASE IF EXISTS "{deployment.database_prefix}{name}" WITH (FORCE)')
            )
    admin.dispose()
