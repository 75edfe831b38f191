"""The fault suite, small: every row with a few sagas on both transports, each row's invariants.

`make test-faults` runs the same rows at full size on both transports and writes the
table (bench/results/faults.md). Here only the invariants are asserted, never timings:
every saga terminal, no duplicate or lost effect, each credit exact, no 5xx but 503.
Everything runs on private Postgres and Redis servers that the rig starts and stops.
"""

import asyncio
from collections.abc import AsyncIterator

import pytest

from sagabench.faults import rig as rigs
from sagabench.faults.rows import ROWS, Row
from sagabench.faults.runner import run_row

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]
SAGAS, RATE = 12, 3.0


@pytest.fixture(scope="module", params=["streams", "pubsub"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[rigs.Rig]:
    running = await rigs.up(request.param)
    yield running
    await rigs.down(running)


async def ask(reader, writer, path: str, token: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on an open connection: (status, headers, body)."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    writer.write(head.encode())
    await writer.drain()
    status_line = await reader.readline()
    assert status_line, "the server closed the connection"
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, value = line.decode().split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return int(status_line.split()[1]), headers, body


async def test_postgres_down_is_a_json_503_and_the_connection_stays_open(rig) -> None:
    token = rig.tokens().token("admin")
    port = rig.services.ports["payment"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await ask(reader, writer, "/customers/nobody", token))[0] == 404
        await rig.postgres.stop_fast()
        try:
            for path in ("/customers/nobody", "/customers/nobody", "/payments", "/readyz"):
                status, headers, body = await ask(reader, writer, path, token)
                assert status == 503, (path, body)
                assert body.startswith(b'{"'), body  # JSON like every other error
                if path != "/readyz":
                    assert headers["retry-after"] == "1"
                    assert b'"detail"' in body
        finally:
            await asyncio.to_thread(rig.postgres.start)
        for _ in range(60):  # the same connection, until the service reconnected
            status, _, body = await ask(reader, writer, "/customers/nobody", token)
            if status != 503:
                break
            await asyncio.sleep(0.25)
        assert status == 404, body
        assert (await ask(reader, writer, "/readyz", token))[0] == 200
    finally:
        writer.close()


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_every_saga_ends_clean_under(rig, row: Row) -> None:
    result = await run_row(rig, row, SAGAS, RATE, seed=ROWS.index(row), finish=60)
    assert result["failures"] == [], result
