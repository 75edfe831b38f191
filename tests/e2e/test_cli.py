"""The commands from the README, run as a user would run them."""

import asyncio
import json
import os
import shutil
import signal
import stat
import sys
import uuid
from contextlib import suppress
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from sagactl.backends import port_open
from sagactl.client import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def cli_env(live) -> dict[str, str]:
    urls = {f"SAGA_{name.upper()}_URL": live.url(name) for name in SERVICES}
    return {
        **os.environ,
        **urls,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "EVENT_PREFIX": live.prefix,
        "SAGA_DEV_KEY_FILE": str(live.stack.dev_key_file),  # the key the stack verifies with
    }


async def sagactl(*args: str, env: dict[str, str], timeout: float = 90) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sagactl",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    return int(process.returncode or 0), output.decode()


async def test_demo_shows_one_saga_reserved_and_one_compensated(streams, tmp_path) -> None:
    ids = tmp_path / "demo" / "bookings.json"
    env = {**cli_env(streams), "COLUMNS": "160"}
    code, output = await sagactl("demo", "--ids-file", str(ids), env=env)
    assert code == 0, output
    assert "reserved" in output
    assert "invoice INV-" in output
    assert "bill failed" in output
    assert "Both sagas ended as expected." in output
    # The ids file hands the bookings to `sagactl verify-observability`.
    bookings = json.loads(ids.read_text())
    assert sorted(bookings.values()) == ["failed", "reserved"]
    assert all(f"created {booking}" in output for booking in bookings)


async def test_status_prints_what_each_service_knows(streams) -> None:
    from decimal import Decimal

    customer = await streams.customer(Decimal("10.00"))
    booking_id = await streams.book(customer, Decimal("99.00"))
    await streams.billed(booking_id)
    code, output = await sagactl("status", booking_id, env={**cli_env(streams), "COLUMNS": "160"})
    assert code == 0, output
    for expected in ("booking", "approval approved", "bill pending 99.00", "awaiting_payment"):
        assert expected in output


async def answer_lost_once(upstream: str) -> asyncio.Server:
    """A TCP proxy to `upstream`: the first connection's request arrives, its answer never."""
    where = urlsplit(upstream)
    first = True

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal first
        lose, first = first, False
        up_reader, up_writer = await asyncio.open_connection(where.hostname, where.port)
        forward = asyncio.create_task(pipe(reader, up_writer))
        with suppress(OSError):
            if lose:
                await up_reader.read(1)  # the service answered: the booking exists
            else:
                await pipe(up_reader, writer)
        forward.cancel()
        for stream in (writer, up_writer):
            stream.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_book_retried_after_a_lost_answer_creates_one_booking(streams) -> None:
    customer = await streams.customer(Decimal("10.00"))
    proxy = await answer_lost_once(streams.url("booking"))
    port = proxy.sockets[0].getsockname()[1]
    env = {**cli_env(streams), "SAGA_BOOKING_URL": f"http://127.0.0.1:{port}"}
    try:
        code, output = await sagactl("book", customer, "12.00", env=env)
    finally:
        proxy.close()
    assert code == 0, output
    page = await streams.client.find("booking", f"/bookings?customer_id={customer}")
    assert page is not None and page["total"] == 1
    assert page["items"][0]["id"] in output


async def test_dead_letters_can_be_listed_shown_and_redriven(streams) -> None:
    stream = streams.stream("INVOICE_GENERATED_EVENT")
    await streams.redis.xadd(stream, {"junk": f"cli-{uuid.uuid4()}"})
    env = {**cli_env(streams), "COLUMNS": "200"}

    async def listed() -> str:
        return (await sagactl("dlq", "list", env=env))[1]

    for _ in range(100):
        if "INVOICE_GENERATED_EVENT" in (output := await listed()):
            break
        await asyncio.sleep(0.1)
    assert "malformed" in output
    letters = await streams.redis.xrange(streams.prefix + "saga.dead-letters")
    entry_id = next(i.decode() for i, f in letters if f[b"origin"] == stream.encode())
    code, shown = await sagactl("dlq", "show", entry_id, env=env)
    assert code == 0 and "junk" in shown
    code, redriven = await sagactl("dlq", "redrive", entry_id, env=env)
    assert code == 1 and f"refused {entry_id}" in redriven  # not a message: tests/e2e/test_dlq.py


async def test_up_starts_private_servers_and_stops_cleanly_on_ctrl_c() -> None:
    state = ROOT / ".local" / f"e2e-{uuid.uuid4().hex[:8]}"
    base_port = 18_100 + os.getpid() % 500
    key = state / "auth" / "dev-signing-key.pem"  # `up` makes it, `demo` signs with it
    env = {**os.environ, "SAGA_BASE_PORT": str(base_port), "SAGA_DEV_KEY_FILE": str(key)}
    for name in ("DATABASE_URL", "REDIS_URL", "SAGA_TOKEN", "SAGA_AS", "AUTH_MODE"):
        env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sagactl",
        "up",
        "--embedded",
        "--state-dir",
        str(state),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not any("Ctrl-C stops everything" in line for line in lines):
            raw = await asyncio.wait_for(process.stdout.readline(), 120)
            assert raw, "sagactl up exited early:\n" + "".join(lines)
            lines.append(raw.decode())
        # The private Redis lets `up` give each service its own ACL user.
        assert any("each service has its own Redis user" in line for line in lines), lines
        urls = {
            f"SAGA_{n.upper()}_URL": f"http://127.0.0.1:{base_port + i}"
            for i, n in enumerate(SERVICES)
        }
        assert f"dev tokens (AUTH_MODE=dev) are signed with {key}" in "".join(lines)
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        code, output = await sagactl("demo", env={**env, **urls})
        assert code == 0, output
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, "".join(lines) + rest.decode()
        assert "stopping the services" in rest.decode()
        assert not any(port_open(base_port + i) for i in range(len(SERVICES)))
        assert not (state / "postgres" / "postmaster.pid").exists()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        shutil.rmtree(state, ignore_errors=True)
