"""Floods against a real uvicorn: no 500, bounded memory, and normal requests still answer.

Issue 9 measured 4,000 concurrent `GET /payments/<random>?wait_for=paid&wait=30`: 3,958
answered 500 (the pool exhausted by their re-reads) and a normal request took 47 s. Here
one payment process runs as `sagactl up` runs it (`payment serve`: uvicorn with the
service's limits), with a small pool so that a flood has something to exhaust. The flood
comes from bare asyncio connections (one request each, `Connection: close`), which cost
the test far less than an HTTP client library would; the normal requests use httpx.
Nothing is timed: the statuses say whether the caps held.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import pytest

from sagactl.auth import ADMIN, DevTokens
from sagakit.testing import (
    REDIS_URL,
    database_url,
    drop_database,
    eventually,
    free_ports,
    require_postgres,
    require_redis,
    run_keyring,
    unique_prefix,
)

FLOOD = 2000  # long polls sent at once
WAITERS = 1200  # LONG_POLL_MAX_WAITERS: most of the flood is admitted and waits
WAIT = 15  # seconds each admitted long poll waits (its booking never comes)
SMALL_POOL = {
    "DB_POOL_SIZE": "4",
    "DB_MAX_OVERFLOW": "0",
    "DB_POOL_TIMEOUT_SECONDS": "2",  # a normal request starved of connections: 503
    "LONG_POLL_CONNECTIONS": "2",
    "METRICS_INTERVAL_SECONDS": "0.5",  # saga_long_poll_waiters, read during the flood
}


class Service:
    """One `payment serve` process on a free port, its log in a file."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def rss_kib(self) -> int:
        """The process's resident memory (Linux /proc)."""
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        return int(next(line.split()[1] for line in lines if line.startswith("VmRSS")))

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text().splitlines()[-30:])

    async def waiters(self) -> int:
        """The saga_long_poll_waiters gauge, as Prometheus scrapes it."""
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:
            text = (await client.get("/metrics")).text
        line = next(line for line in text.splitlines() if line.startswith("saga_long_poll_wait"))
        return int(float(line.split()[-1]))


def enough_file_descriptors(needed: int) -> None:
    """Both ends of every connection are sockets of this machine: raise the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"the flood needs {needed} open files; `ulimit -Hn` allows {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@pytest.fixture
def as_admin(dev_key: Path) -> dict[str, str]:
    """The Authorization header of an admin (a token signed with the stack's dev key)."""
    return {"Authorization": f"Bearer {DevTokens.from_file(dev_key).token(ADMIN)}"}


@contextlib.asynccontextmanager
async def payment_service(
    logs: Path, env: Mapping[str, str], dev_key: Path
) -> AsyncIterator[Service]:
    """`payment serve` on its own new database with `env` on top, stopped and dropped after."""
    await require_postgres()
    await require_redis()
    enough_file_descriptors(3 * FLOOD)  # the subprocess inherits the limit
    name = f"e2e_flood_{uuid.uuid4().hex[:6]}_payment"
    (port,) = free_ports(1)
    variables = {
        **os.environ,
        **env,
        "DATABASE_URL": database_url(name),
        "REDIS_URL": REDIS_URL,
        "EVENT_PREFIX": unique_prefix(),
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",  # no access log line per request of the flood
        "OTEL_SDK_DISABLED": "true",
        "AUTH_MODE": "dev",
        "AUTH_DEV_KEY_FILE": str(dev_key),
        **run_keyring().env("payment"),
    }
    log = logs / "payment.log"
    with log.open("w") as out:
        command = (sys.executable, "-m", "payment", "serve", "--migrate")
        process = await asyncio.create_subprocess_exec(
            *command, env=variables, stdout=out, stderr=out
        )
    service = Service(process, port, log)
    try:
        await ready(service)
        yield service
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
        await drop_database(name)


async def ready(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.url) as client:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    pytest.fail(f"payment never became ready\n{service.log_tail()}")


async def bare_get(port: int, target: str, token: str) -> tuple[int | str, str]:
    """One request on its own connection: (status or the error's name, the head's text)."""
    head = f"Host: payment\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = f"GET {target} HTTP/1.1\r\n{head}"
        writer.write(request.encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        writer.close()
    except (OSError, asyncio.IncompleteReadError) as exc:
        return type(exc).__name__, ""
    return int(head.split()[1]), head


async def long_poll(port: int, token: str) -> int | str:
    target = f"/payments/{uuid.uuid4()}?wait_for=paid&wait={WAIT}"
    status, head = await bare_get(port, target, token)
    if status == 503:
        assert "retry-after: 1" in head, head  # the waiters' cap, not uvicorn's
    return status


async def normal_requests(service: Service, count: int, headers: dict[str, str]) -> list[int]:
    """Calls while the flood waits: set a customer's credit, read it back."""
    statuses = []
    async with httpx.AsyncClient(base_url=service.url, timeout=120, headers=headers) as client:
        for n in range(count):
            customer = f"calm-{uuid.uuid4().hex[:8]}"
            put = await client.put(f"/customers/{customer}/credit", json={"amount": f"{n + 1}"})
            got = await client.get(f"/customers/{customer}")
            statuses += [put.status_code, got.status_code]
    return statuses


async def settled_waiters(service: Service) -> int:
    """The gauge once it shows at least half the cap waiting (or after a minute)."""
    for _ in range(120):
        if (waiting := await service.waiters()) >= WAITERS // 2:
            return waiting
        await asyncio.sleep(0.5)
    return await service.waiters()


async def test_a_flood_of_long_polls_gets_no_500_and_normal_requests_still_answer(
    tmp_path: Path, dev_key: Path, as_admin: dict[str, str]
) -> None:
    env = {**SMALL_POOL, "LONG_POLL_MAX_WAITERS": str(WAITERS), "HTTP_LIMIT_CONCURRENCY": "2500"}
    async with payment_service(tmp_path, env, dev_key) as payment:
        idle, token = payment.rss_kib(), as_admin["Authorization"]
        polls = [asyncio.create_task(long_poll(payment.port, token)) for _ in range(FLOOD)]
        waiting, flooded = await settled_waiters(payment), payment.rss_kib()
        calm = await normal_requests(payment, 10, as_admin)
        answers = Counter(await asyncio.gather(*polls))
        log = payment.log.read_text()

    assert calm == [200] * 20, f"normal requests during the flood: {calm}\n{log[-3000:]}"
    assert set(answers) == {404, 503}, answers  # waited then found nothing, or refused
    assert WAITERS // 2 <= waiting <= WAITERS, waiting
    assert answers[404] >= WAITERS // 2 and answers[503] >= FLOOD - WAITERS, answers
    assert (flooded - idle) // WAITERS < 100, f"{flooded - idle} KiB for {WAITERS} waiters"
    assert "Traceback" not in log, log[-3000:]


async def test_beyond_limit_concurrency_uvicorn_answers_503_and_recovers(
    tmp_path: Path, dev_key: Path, as_admin: dict[str, str]
) -> None:
    env = {"HTTP_LIMIT_CONCURRENCY": "50"}
    async with payment_service(tmp_path, env, dev_key) as payment:
        token = as_admin["Authorization"]
        # Sixty clients connect and send half a request head, then wait: the server holds
        # sixty connections, more than its limit, whatever the machine's speed.
        held = [await asyncio.open_connection("127.0.0.1", payment.port) for _ in range(60)]
        for _, writer in held:
            writer.write(b"GET /customers/nobody HTTP/1.1\r\nHost: payment\r\n")
        answers: Counter[int | str] = Counter()

        async def refused() -> bool:
            status, _ = await bare_get(payment.port, "/customers/nobody", token)
            answers[status] += 1
            return status == 503

        refused_while_held = await eventually(refused, timeout=30)
        burst = [bare_get(payment.port, "/customers/nobody", token) for _ in range(300)]
        burst_answers = Counter(status for status, _ in await asyncio.gather(*burst))
        for _, writer in held:
            writer.close()
        async with httpx.AsyncClient(base_url=payment.url, headers=as_admin) as client:

            async def recovered() -> bool:
                return (await client.get("/customers/nobody")).status_code == 404

            answered_after = await eventually(recovered, timeout=30)
        log = payment.log.read_text()

    assert refused_while_held, answers
    assert set(answers) <= {404, 503}, answers
    assert burst_answers == {503: 300}, burst_answers
    assert answered_after, "still refused after the held connections closed"
    assert "Traceback" not in log, log[-3000:]


async def test_the_parser_drops_an_endless_request_head_before_it_is_in_memory(
    tmp_path: Path, dev_key: Path, as_admin: dict[str, str]
) -> None:
    async with payment_service(tmp_path, {}, dev_key) as payment:
        before = payment.rss_kib()
        sent, answer = await endless_head(payment.port, 50_000_000)
        grown = payment.rss_kib() - before
        async with httpx.AsyncClient(base_url=payment.url, headers=as_admin) as client:
            healthy = await client.get("/healthz")
            large = await client.get("/healthz", headers={"x-pad": "a" * 20_000})
            body = await client.post("/payments", json={"booking_id": "x" * 70_000})

    assert sent < 50_000_000, "the server read 50 MB of headers"  # httptools would have
    assert answer.startswith(b"HTTP/1.1 400") or answer == b"", answer
    assert grown < 20_000, f"the head grew the process by {grown} KiB"
    assert healthy.status_code == 200
    assert large.status_code == 431  # within the parser's bound: the precise status
    assert body.status_code == 413 and "larger than" in body.json()["detail"]


async def endless_head(port: int, size: int) -> tuple[int, bytes]:
    """Send up to `size` bytes of headers; (bytes sent, what came back)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    header = b"X-Pad: " + b"a" * 1000 + b"\r\n"
    sent = 0
    with contextlib.suppress(OSError):  # reset or broken pipe: the server hung up
        while sent < size:
            writer.write(header)
            await writer.drain()
            sent += len(header)
    try:
        answer = await reader.read(100)
    except OSError:
        answer = b""
    writer.close()
    return sent, answer
