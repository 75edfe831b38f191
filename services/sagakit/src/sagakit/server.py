"""`serve`: uvicorn, stopped in the order a rolling update needs.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, waits up to
`shutdown_http_seconds` for the open ones, and only then runs the app's lifespan
shutdown (consumers, outbox, connections: sagakit.runtime). A long poll would hold
that wait for its whole duration, so the app hears of the shutdown first: its
waiting requests answer at once with the current state.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sagakit.auth import AuthConfigError
from sagakit.runtime import ServiceRuntime
from sagakit.settings import ServiceSettings


class GracefulServer(uvicorn.Server):
    """A uvicorn server that calls `on_shutdown` before it drains its connections."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Tell the app, then stop as uvicorn does (runs on the loop right after the signal)."""
        self._on_shutdown()
        await super().shutdown(sockets)


def begin_shutdown(app: FastAPI) -> None:
    """Shutdown began: the app's waiting long polls answer now, before the server drains."""
    runtime: ServiceRuntime | None = getattr(app.state, "runtime", None)
    if runtime is not None:  # None: the lifespan never ran
        runtime.begin_shutdown()


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head.

    httptools alone keeps reading headers without any bound (200 MB of them grew a
    process to 260 MB); h11 has a bound but parses in Python, ~0.3 ms more per request.
    Here every byte received while a head is being read counts against `max_head_bytes`;
    past it, with the head still incomplete, the answer is a 400 and the connection
    closes before the head is in memory. A head that completes restarts the count, even
    when its body came in the same chunk, so body bytes never count (RequestLimits
    bounds those).
    """

    max_head_bytes = 65_536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._reading_head = True

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does, then refuse a head still incomplete beyond the bound."""
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # A head that ended in this chunk reset the count, whatever body came with it;
        # the parser never holds more of a head than the bound and one chunk.
        too_long = self._reading_head and self._head_bytes > self.max_head_bytes
        if too_long and not self.transport.is_closing():
            self._reading_head = False
            self.send_400_response("Request head too large.")

    def on_headers_complete(self) -> None:
        """The head is whole: what follows is body until the request completes."""
        self._reading_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The next bytes on this connection are the next request's head."""
        self._reading_head = True
        super().on_message_complete()


def bounded_httptools(max_head_bytes: int) -> type[BoundedHttpTools]:
    """The protocol class uvicorn builds per connection, with this bound."""
    return type("BoundedHttpTools", (BoundedHttpTools,), {"max_head_bytes": max_head_bytes})


def server_config(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    """uvicorn's configuration: where to listen, how long to drain, what a client may cost.

    The parser is httptools with a bound on the request head (request line and headers,
    `BoundedHttpTools`). The bound leaves room above the URL and header caps
    (sagakit.guards), so within it a client gets their precise 414 or 431.
    `limit_concurrency`: open connections or running requests beyond it get a 503.
    """
    head_bytes = 2 * (settings.http_max_url_bytes + settings.http_max_header_bytes)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_http_seconds),
        http=bounded_httptools(head_bytes),
        limit_concurrency=settings.http_limit_concurrency,
    )


def serve(app_factory_path: str, settings: ServiceSettings) -> None:
    """Build the app from its factory ("module:function") and serve it until stopped."""
    try:
        app: FastAPI = import_from_string(app_factory_path)()
    except AuthConfigError as exc:
        logging.getLogger(__name__).error("refusing to start: %s", exc)
        raise SystemExit(2) from None
    config = server_config(app, settings)
    GracefulServer(config, on_shutdown=lambda: begin_shutdown(app)).run()
    runtime: ServiceRuntime | None = getattr(app.state, "runtime", None)
    if runtime is not None and runtime.fatal is not None:
        # The watchdog gave up on a stopped consumer: a non-zero status says so to whoever
        # restarts the process (sagakit.watchdog).
        raise SystemExit(1)
