"""The five services as real processes (the same `Stack` that `make up` runs), driven over HTTP.

Each stack gets its own databases (`e2e_<service>`), its own stream/channel
prefix and free ports, so the suite never touches a running `make up`.
Service logs go to files; a failed wait prints their tails.

The services run with AUTH_MODE=dev and a key made for the session: every call carries
a token signed with it, for whom the role table asks (credit as admin, a booking and
its payment as its customer, decisions as manager, reads as admin), so the real checks
run. The tests marked `cluster` use only the HTTP APIs (the `saga` fixture): with
SAGA_E2E_TARGET=urls they run against any deployment, e.g. `make e2e-kind`, signing with
the deployment's dev key (SAGA_DEV_KEY_FILE).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from redis.asyncio import Redis

from sagactl.auth import DevTokens, NoCredentials
from sagactl.backends import Backends
from sagactl.client import SERVICES, Endpoints, SagaClient
from sagactl.devstack import Stack
from sagactl.eventsecurity import StackSecurity, secure, withdraw
from sagakit import devauth
from sagakit.testing import (
    POSTGRES_URL,
    REDIS_URL,
    drop_database,
    free_ports,
    fresh_database,
    require_postgres,
    require_redis,
    run_keyring,
    unique_prefix,
)

FAST_RECOVERY = {
    "CLAIM_IDLE_MS": "1000",
    "MAX_DELIVERIES": "3",
    "RELAY_POLL_SECONDS": "0.5",
    "POLL_INTERVAL_MS": "50",
    "LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the OTLP receiver decoded it."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    service: str
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...]


class OtlpReceiver:
    """A real OTLP/HTTP trace receiver: decodes ExportTraceServiceRequest protobufs."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.receive(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            service=str(resource.get("service.name")),
                            attributes=_attributes(span.attributes),
                            links=tuple((k.trace_id.hex(), k.span_id.hex()) for k in span.links),
                        )
                    )
        with self._lock:
            self.spans.extend(spans)

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def close(self) -> None:
        self._server.shutdown()


def _attributes(pairs: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        values[pair.key] = getattr(pair.value, kind) if kind else None
    return values


@pytest.fixture(scope="session")
def dev_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's dev signing key: the stacks verify with it, the clients sign with it."""
    return devauth.ensure_key(tmp_path_factory.mktemp("auth") / "dev-signing-key.pem")


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


class SagaDriver:
    """The saga's customer-side calls over HTTP only, against any base URLs."""

    def __init__(self, client: SagaClient) -> None:
        self.client = client
        self.owners: dict[str, str] = {}  # booking id -> its customer, who pays it

    def headers(self, identity: str) -> dict[str, str]:
        """The Authorization header of a request made as `identity` (admin, manager, a customer)."""
        return self.client.headers(identity)

    def log_tail(self, lines: int = 25) -> str:
        """What a failed wait prints besides the last answer (the services' logs if known)."""
        return "(the services run elsewhere: see their logs there)"

    async def customer(self, credit: Decimal) -> str:
        customer_id = f"cust-{uuid.uuid4().hex[:10]}"
        await self.client.set_credit(customer_id, credit)
        return customer_id

    async def book(self, customer_id: str, amount: Decimal = Decimal("120.00")) -> str:
        booking_id = str((await self.client.book(customer_id, "Room 42", amount))["id"])
        self.owners[booking_id] = customer_id
        return booking_id

    async def wait_for(
        self,
        service: str,
        path: str,
        done: Callable[[dict[str, Any]], bool],
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        """Poll a resource until `done` holds; fail with the services' logs otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: dict[str, Any] | None = None
        while loop.time() < deadline:
            try:
                last = await self.client.find(service, path)
            except httpx.HTTPError:
                last = None
            if last is not None and done(last):
                return last
            await asyncio.sleep(0.05)
        pytest.fail(f"{service}{path} never got there; last seen {last}\n{self.log_tail()}")

    async def booking_status(self, booking_id: str, status: str) -> dict[str, Any]:
        return await self.wait_for(
            "booking", f"/bookings/{booking_id}", lambda b: b["status"] == status
        )

    async def billed(self, booking_id: str) -> dict[str, Any]:
        return await self.wait_for(
            "payment", f"/payments/{booking_id}", lambda p: p["status"] == "awaiting_payment"
        )

    async def pay(self, booking_id: str) -> dict[str, Any]:
        response = await self.client.pay(booking_id, self.owners[booking_id])
        assert response.status_code == 200, response.text
        return dict(response.json())


class LiveStack(SagaDriver):
    """A running stack of local processes plus what the scenarios need beyond HTTP."""

    def __init__(
        self, stack: Stack, prefix: str, logs: Path, redis: Redis, security: StackSecurity
    ) -> None:
        super().__init__(stack.client(timeout=10.0))
        self.stack = stack
        self.prefix = prefix
        self.logs = logs
        self.redis = redis  # the test's own connection, not a service's ACL user
        self.security = security

    def stream(self, event_type: str) -> str:
        return self.prefix + event_type

    def url(self, service: str) -> str:
        return self.stack.endpoints().url(service)

    def log_tail(self, lines: int = 25) -> str:
        parts = []
        for name in SERVICES:
            path = self.logs / f"{name}.log"
            text = path.read_text().splitlines()[-lines:] if path.exists() else []
            parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)

    async def restart(
        self, name: str, env: dict[str, str] | None = None, crash: bool = False
    ) -> None:
        """Stop a service (SIGKILL when `crash`) and start it again with extra env."""
        await self.stack.kill(name, 9 if crash else 15)
        await self.stack.start(name, env)
        assert await self.stack.wait_ready((name,)), self.log_tail()


async def launch(
    transport: str,
    database_prefix: str,
    logs: Path,
    otlp: OtlpReceiver,
    dev_key: Path,
    redis_url: str = REDIS_URL,
    extra_env: dict[str, str] | None = None,
) -> LiveStack:
    """A stack on the shared servers, or on a Redis of the test's own (`redis_url`)."""
    await require_postgres()
    if redis_url == REDIS_URL:
        await require_redis()
    for name in SERVICES:
        await fresh_database(database_prefix + name)
    prefix = unique_prefix()

    def sink(name: str, line: str) -> None:
        with (logs / f"{name}.log").open("a") as out:
            out.write(line + "\n")

    env = {
        **FAST_RECOVERY,
        "EVENT_TRANSPORT": transport,
        "EVENT_PREFIX": prefix,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SDK_DISABLED": "false",
        **(extra_env or {}),
    }
    # Signed events and a Redis ACL user per service, as `sagactl up` and the chart set up.
    security = await secure(redis_url, prefix, "saga.dead-letters", run_keyring(), pytest.fail)
    stack = Stack(
        Backends(database_url=POSTGRES_URL, redis_url=redis_url),
        env,
        ports=dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
        database_prefix=database_prefix,
        sink=sink,
        dev_key_file=dev_key,
        service_env=security.service_env(),
    )
    live = LiveStack(stack, prefix, logs, Redis.from_url(redis_url), security)
    await stack.start_all()
    assert await stack.wait_ready(), live.log_tail()
    return live


async def shut(live: LiveStack) -> None:
    await live.stack.stop()
    await live.client.aclose()
    await live.redis.aclose()
    await withdraw(live.security)
    for name in SERVICES:
        await drop_database(live.stack.database_prefix + name)


@asynccontextmanager
async def live_stack(
    transport: str,
    tag: str,
    tmp_path_factory: pytest.TempPathFactory,
    otlp: OtlpReceiver,
    dev_key: Path,
    redis_url: str = REDIS_URL,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[LiveStack]:
    """A stack with databases of its own (parallel runs on one server never collide)."""
    prefix = f"e2e_{uuid.uuid4().hex[:6]}_" + (f"{tag}_" if tag else "")
    logs = tmp_path_factory.mktemp(f"{tag or transport}-logs")
    live = await launch(transport, prefix, logs, otlp, dev_key, redis_url, extra_env)
    try:
        yield live
    finally:
        await shut(live)


@pytest.fixture(scope="session")
async def streams(
    tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver, dev_key: Path
) -> AsyncIterator[LiveStack]:
    async with live_stack("streams", "", tmp_path_factory, otlp, dev_key) as live:
        yield live


@pytest.fixture(scope="module")
async def fuzzed(
    tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver, dev_key: Path
) -> AsyncIterator[LiveStack]:
    """A stack of its own for the fuzz test: what it creates touches no other test's data."""
    async with live_stack("streams", "fuzz", tmp_path_factory, otlp, dev_key) as live:
        yield live


@pytest.fixture(scope="session")
async def pubsub(
    tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver, dev_key: Path
) -> AsyncIterator[LiveStack]:
    async with live_stack("pubsub", "pubsub", tmp_path_factory, otlp, dev_key) as live:
        yield live


# Deadlines of seconds, approvals by hand: a payment or an approval nobody acts on ends soon.
SHORT_DEADLINES = {
    "AUTO_APPROVE": "false",
    "APPROVAL_TIMEOUT_SECONDS": "3",
    "PAYMENT_TIMEOUT_SECONDS": "2",
    "DEADLINE_SWEEP_SECONDS": "0.2",
}


@pytest.fixture(scope="module", params=["streams", "pubsub"])
async def deadlines(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    otlp: OtlpReceiver,
    dev_key: Path,
) -> AsyncIterator[LiveStack]:
    """A stack per transport whose deadlines fall within seconds (the other stacks keep
    the defaults: their customers pay at their own pace)."""
    transport = request.param
    tag = f"deadlines_{transport}"
    async with live_stack(
        transport, tag, tmp_path_factory, otlp, dev_key, extra_env=SHORT_DEADLINES
    ) as live:
        yield live


# `make e2e-kind` sets SAGA_E2E_TARGET=urls: the tests marked `cluster` then drive the
# services at SAGA_BOOKING_URL ... SAGA_INVOICE_URL (the port-forwarded cluster), signing
# tokens with the key the cluster's services verify (SAGA_DEV_KEY_FILE).
AGAINST_URLS = os.environ.get("SAGA_E2E_TARGET") == "urls"


def remote_tokens() -> DevTokens:
    """Tokens signed with SAGA_DEV_KEY_FILE, or a failure saying where that key comes from."""
    path = os.environ.get("SAGA_DEV_KEY_FILE", "")
    if not path:
        pytest.fail(
            "SAGA_E2E_TARGET=urls needs SAGA_DEV_KEY_FILE: the dev signing key the deployment's "
            "services verify (kind: `make cluster-key` fetches it into "
            ".local/auth/cluster-dev-signing-key.pem)",
            pytrace=False,
        )
    try:
        return DevTokens.from_file(Path(path))
    except NoCredentials as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
async def remote() -> AsyncIterator[SagaDriver]:
    """The deployment at SAGA_BOOKING_URL ... SAGA_INVOICE_URL."""
    driver = SagaDriver(SagaClient(Endpoints(), timeout=10.0, tokens=remote_tokens()))
    yield driver
    await driver.client.aclose()


@pytest.fixture(params=["remote"] if AGAINST_URLS else ["streams", "pubsub"])
def saga(request: pytest.FixtureRequest) -> SagaDriver:
    """Black-box access: the remote deployment, else each local stack in turn."""
    driver: SagaDriver = request.getfixturevalue(request.param)
    return driver
