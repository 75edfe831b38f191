"""`sagactl up`'s private Postgres: started from the binaries on PATH, on another port when
the one it chose is taken between the probe and the postmaster's bind."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sagactl.backends import EmbeddedPostgres, MissingServer, find_binary


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder the `postgres` user can walk into (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="sagactl-backends-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 by a socket that never listens: a probe sees it free."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def require_binaries() -> None:
    if not (find_binary("initdb") and find_binary("pg_ctl")):
        pytest.fail("initdb and pg_ctl are needed: install PostgreSQL (apt-get install postgresql)")


def test_a_port_taken_after_the_probe_starts_postgres_on_another(
    folder: Path, taken_port: int
) -> None:
    require_binaries()
    server = EmbeddedPostgres(folder / "postgres", taken_port)
    url = server.start()
    try:
        assert server.port != taken_port
        with psycopg.connect(url.replace("+psycopg", "")) as connection:
            assert connection.execute("select 1").fetchone() == (1,)
    finally:
        server.stop()


def test_a_server_that_cannot_start_says_why_and_where_its_log_is(folder: Path) -> None:
    require_binaries()
    data = folder / "postgres"
    server = EmbeddedPostgres(data, 5)  # a privileged port: refused on every attempt
    server.start_attempts = 1
    with pytest.raises(MissingServer) as caught:
        server.start()
    assert str(data / "server.log") in str(caught.value)
    assert "Postgres did not start" in str(caught.value)
