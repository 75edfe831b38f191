"""Which errors are "a dependency is out of reach" (503, retry) and which are bugs (500)."""

import psycopg
import pytest
from psycopg import errors
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, ProgrammingError

from sagakit.unavailable import unreachable

pytestmark = pytest.mark.unit


def wrapped(kind: type, orig: Exception, invalidated: bool = False) -> Exception:
    return kind("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "exc",
    [
        # engine.connect() while the server is down or shutting down
        wrapped(OperationalError, psycopg.OperationalError("connection failed: refused")),
        wrapped(OperationalError, errors.CannotConnectNow("the database system is shutting down")),
        wrapped(OperationalError, errors.AdminShutdown("terminating connection")),
        wrapped(InterfaceError, psycopg.InterfaceError("the connection is closed")),
        wrapped(OperationalError, errors.ConnectionFailure("server closed"), invalidated=True),
        psycopg.OperationalError("consuming input failed: server closed the connection"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        RedisTimeoutError("Timeout reading from socket"),
    ],
    ids=lambda exc: exc.__class__.__name__,
)
def test_failures_to_reach_postgres_or_redis_are_unreachable(exc: Exception) -> None:
    assert unreachable(exc)


def test_a_cause_that_is_a_connection_problem_counts() -> None:
    exc = RuntimeError("could not connect")
    exc.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert unreachable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(IntegrityError, errors.UniqueViolation("duplicate key")),
        wrapped(ProgrammingError, errors.UndefinedTable('relation "x" does not exist')),
        wrapped(OperationalError, errors.QueryCanceled("canceling statement due to timeout")),
        wrapped(OperationalError, errors.SerializationFailure("could not serialize")),
        FileNotFoundError(2, "No such file"),
        ValueError("a bug"),
    ],
    ids=lambda exc: exc.__class__.__name__,
)
def test_bugs_stay_bugs(exc: Exception) -> None:
    assert not unreachable(exc)
