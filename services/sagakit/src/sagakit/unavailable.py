"""Which errors mean "a dependency cannot be reached now" (HTTP 503) rather than a bug (500).

While Postgres restarts, fails over or a network link drops, a request meets one of many
errors: the pool's `engine.connect()` raises `sqlalchemy.exc.OperationalError` around
psycopg's "connection refused" or "the database system is shutting down", a query on a
connection the server closed raises one with `connection_invalidated`, a socket raises
`ConnectionRefusedError`, Redis raises its own `ConnectionError`. All of them are worth a
retry a moment later; a unique violation or a syntax error never is.
"""

from __future__ import annotations

import socket

import psycopg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

# SQLSTATEs of a server that is not there for us now: class 08 (connection exception),
# admin or crash shutdown, "the database system is starting up / shutting down".
UNREACHABLE_SQLSTATES = ("57P01", "57P02", "57P03")
RETRY_AFTER_SECONDS = 1
NETWORK_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # asyncio's too: a connect or a ping that did not finish in time
    socket.gaierror,
)


def unreachable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says Postgres or Redis cannot be reached now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _connection_problem(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _connection_problem(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or (
            exc.orig is not None and _connection_problem(exc.orig)
        )
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: the client could not connect or lost the connection itself.
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in UNREACHABLE_SQLSTATES
    if isinstance(exc, psycopg.InterfaceError):
        return "closed" in str(exc)  # "the connection is closed"
    # Not every OSError: a missing file is a bug. A refused, reset or timed out socket is not.
    return isinstance(exc, NETWORK_ERRORS)
