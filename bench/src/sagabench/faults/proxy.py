"""A TCP proxy of the suite's own between one service and a server, to cut the link at will.

`cut(seconds)`: every live connection is dropped at once and new ones are refused (the
port is closed) until the time is up; then the proxy listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib

from sagakit.testing import free_ports


class CuttableProxy:
    """127.0.0.1:<port> forwards to 127.0.0.1:<target>."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_ports(1)[0]
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._drop()
            await self._server.wait_closed()
            self._server = None

    async def cut(self, seconds: float) -> None:
        """Drop every connection and refuse new ones for `seconds`, then heal."""
        await self.close()
        await asyncio.sleep(seconds)
        await self.start()

    def _drop(self) -> None:
        for writer in list(self._links):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # a reset, as when a link or a node goes away
        self._links.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._links |= {client_w, server_w}
        try:
            await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))
        finally:
            for writer in (client_w, server_w):
                self._links.discard(writer)
                writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()  # one side hung up: so does the other
