"""The postgres chart's init script, run against a real Postgres: least-privilege roles.

The script the chart renders into /docker-entrypoint-initdb.d runs here as the image
would run it (bash, psql, the superuser in POSTGRES_USER), with two throwaway databases.
Each gets an owner role that can log in and use its own database, and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import uuid
from base64 import b64decode
from collections.abc import Iterator
from types import ModuleType

import psycopg
import pytest
import yaml
from chartkit import CHARTS

from sagakit.db import normalize_url
from sagakit.testing import POSTGRES_URL, START_HINT

SERVER = normalize_url(POSTGRES_URL)


def connect(user: str | None = None, database: str | None = None) -> psycopg.Connection:
    return psycopg.connect(
        host=SERVER.host or "127.0.0.1",
        port=SERVER.port or 5432,
        user=user or SERVER.username or "postgres",
        password=SERVER.password if user is None else None,
        dbname=database or SERVER.database or "postgres",
        autocommit=True,
    )


@pytest.fixture
def server() -> Iterator[psycopg.Connection]:
    if shutil.which("psql") is None:
        pytest.fail("psql is not installed (apt-get install postgresql-client). " + START_HINT)
    try:
        conn = connect()
    except psycopg.OperationalError as exc:
        pytest.fail(f"Postgres is not answering at {POSTGRES_URL}: {exc}. {START_HINT}")
    yield conn
    conn.close()


@pytest.fixture
def databases(server: psycopg.Connection) -> Iterator[list[str]]:
    names = [f"chart_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    yield names
    for name in names:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.execute(f'DROP ROLE IF EXISTS "{name}"')


def scram_matches(verifier: str, password: str) -> bool:
    """Does a SCRAM-SHA-256 verifier (pg_authid.rolpassword) belong to this password?"""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), b64decode(salt), int(iterations))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return method == "SCRAM-SHA-256" and hashlib.sha256(client_key).digest() == b64decode(
        stored_key
    )


def init_script(helm: ModuleType, names: list[str]) -> str:
    values = {"initdb": {"databases": names, "passwordsSecret": "credentials"}}
    with helm.Chart.load(CHARTS / "postgres") as chart:
        manifests = chart.render(values, name="db", namespace="db", is_install=True)
    config_map = yaml.safe_load(manifests["postgres/templates/configmap-initdb.yaml"])
    script: str = config_map["data"]["10-databases.sh"]
    return script


def test_each_database_gets_an_owner_that_can_do_nothing_else(
    helm: ModuleType, server: psycopg.Connection, databases: list[str]
) -> None:
    env = {
        **os.environ,
        "POSTGRES_USER": SERVER.username or "postgres",
        "PGHOST": SERVER.host or "127.0.0.1",
        "PGPORT": str(SERVER.port or 5432),
        "PGPASSWORD": SERVER.password or "",
    }
    for name in databases:
        env[f"DATABASE_PASSWORD_{name.upper()}"] = f"it's a {name} secret"
    result = subprocess.run(
        ["bash", "-c", init_script(helm, databases)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    own, other = databases
    role = server.execute(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin,"
        " rolpassword FROM pg_authid WHERE rolname = %s",
        (own,),
    ).fetchone()
    assert role is not None
    assert role[:6] == (False, False, False, False, False, True)
    # The password from the environment, quotes and spaces included, is the role's.
    assert scram_matches(role[6], f"it's a {own} secret")
    assert not scram_matches(role[6], f"it's a {other} secret")
    owner = server.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (own,)
    ).fetchone()
    assert owner == (own,)

    with connect(user=own, database=own) as conn:  # its own database: full use
        conn.execute("CREATE TABLE bookings (id int PRIMARY KEY)")
        conn.execute("INSERT INTO bookings VALUES (1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE another")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE another")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connect(user=own, database=other)  # another service's database: not even a login
