"""BoundedHttpTools: httptools with a bound on the request head, over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from sagakit.server import bounded_httptools
from sagakit.testing import eventually, free_ports

HEAD_BOUND = 4096


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the number of body bytes it read."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[int]:
    (port,) = free_ports(1)
    config = uvicorn.Config(
        echo_length, port=port, log_config=None, http=bounded_httptools(HEAD_BOUND), lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    assert await eventually(started, timeout=10, interval=0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, *chunks: bytes) -> bytes:
    """Write the chunks one by one, then read everything until the server hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    with contextlib.suppress(OSError):
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0)
    answer = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    return answer


def request(path: str = "/", body: bytes = b"", close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
    return head + connection + b"\r\n" + body


@pytest.mark.asyncio
async def test_pipelined_requests_in_one_chunk_are_each_answered() -> None:
    async with serving() as port:
        answer = await exchange(port, request(body=b"abc") + request(body=b"", close=True))

    assert answer.count(b"HTTP/1.1 200") == 2
    assert answer.endswith(b"0") and b"\r\n\r\n3" in answer


@pytest.mark.asyncio
async def test_a_head_over_the_bound_is_a_400_even_in_small_pieces() -> None:
    start, pad = b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-Pad: " + b"a" * 100 + b"\r\n"
    # The last piece crosses the bound: nothing is sent after the server hangs up.
    pieces = [start] + [pad] * ((HEAD_BOUND - len(start)) // len(pad) + 1)

    async with serving() as port:
        answer = await exchange(port, *pieces)

    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b"Request head too large" in answer


@pytest.mark.asyncio
async def test_body_bytes_never_count_against_the_head_bound() -> None:
    body = b"x" * (HEAD_BOUND * 8)
    first = request(body=body)

    async with serving() as port:
        # The body in slices, then a second request with a normal head on the same connection.
        slices = [first[i : i + 1000] for i in range(0, len(first), 1000)]
        answer = await exchange(port, *slices, request(close=True))

    assert answer.count(b"HTTP/1.1 200") == 2, answer[:300]
    assert str(len(body)).encode() in answer


@pytest.mark.asyncio
async def test_a_body_in_the_same_chunk_as_its_head_does_not_count() -> None:
    body = b"y" * (HEAD_BOUND * 4)

    async with serving() as port:
        answer = await exchange(port, request(body=body, close=True))

    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert answer.endswith(str(len(body)).encode())
