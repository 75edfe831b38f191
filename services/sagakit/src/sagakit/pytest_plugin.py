"""Fixtures every service's integration tests share (registered as a pytest plugin).

A service's `tests/integration/conftest.py` only describes itself:

    @pytest.fixture(scope="session")
    def service() -> ServiceUnderTest:
        return ServiceUnderTest("booking", messaging, SqlBookingUnitOfWork, Settings, create_app)

and gets `database_url` (a fresh, migrated `test_<service>` database), `engine`,
`new_uow`, `redis`, `settings` (unique stream prefix, AUTH_MODE=dev with a key made for
the run), `client` (the app running in process with its consumers and relay, calling
as an operator with the roles admin and manager), `client_as("alice")` (the same app,
calling as customer alice, or with the roles given), `bearer` (a token's header) and
`call_as` (one cell of the access matrix, see sagakit.testauth).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.db import create_engine
from sagakit.devauth import ensure_key, issue, load_key
from sagakit.settings import ServiceSettings
from sagakit.tables import MessagingTables
from sagakit.testauth import call_route
from sagakit.testing import (
    DATABASE_PREFIX,
    REDIS_URL,
    app_client,
    fresh_database,
    key_settings,
    require_redis,
    unique_prefix,
)

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI


def pytest_configure(config: pytest.Config) -> None:
    """Keep the OpenTelemetry SDK off in the test process itself.

    Apps run in process would otherwise instrument the test's own HTTP client,
    whose unsampled spans tell the services under test not to record. The
    end-to-end stacks turn it on for their service processes.
    """
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")


@dataclass(frozen=True)
class ServiceUnderTest:
    """What the shared fixtures need to know about one service."""

    name: str
    tables: MessagingTables
    unit_of_work: Callable[..., Any]
    settings: Callable[..., ServiceSettings]
    create_app: Callable[[Any], FastAPI]
    settings_overrides: Mapping[str, Any] = field(default_factory=dict)
    # A request body for each route that needs one, for the access matrix (call_as).
    examples: Mapping[str, Any] = field(default_factory=dict)

    async def call_as(
        self, make: Callable[..., httpx.AsyncClient], route: str, role: str | None
    ) -> httpx.Response:
        """Call a route of the access table with made-up ids as `role` (None: no token)."""
        subject = f"{role or 'nobody'}-{uuid.uuid4().hex[:8]}"
        client = make(subject, role) if role else make(None)
        return await call_route(client, route, subject, self.examples.get(route))


@pytest.fixture(scope="session")
async def _databases() -> AsyncIterator[dict[str, tuple[str, AsyncEngine]]]:
    # One database and engine per service for the whole run. A session-scoped
    # fixture would be computed once for all services in one pytest session.
    databases: dict[str, tuple[str, AsyncEngine]] = {}
    yield databases
    for _, engine in databases.values():
        await engine.dispose()


@pytest.fixture
async def database_url(
    service: ServiceUnderTest, _databases: dict[str, tuple[str, AsyncEngine]]
) -> str:
    """A fresh `test_<service>` database (TEST_DATABASE_PREFIX) migrated to head, once per run."""
    if service.name not in _databases:
        url = await fresh_database(f"{DATABASE_PREFIX}{service.name}", f"{service.name}:migrations")
        _databases[service.name] = (url, create_engine(url))
    return _databases[service.name][0]


@pytest.fixture
def engine(
    service: ServiceUnderTest, database_url: str, _databases: dict[str, tuple[str, AsyncEngine]]
) -> AsyncEngine:
    """An engine on the service's test database."""
    return _databases[service.name][1]


@pytest.fixture
def new_uow(service: ServiceUnderTest, engine: AsyncEngine) -> Callable[[], Any]:
    """Factory of the service's real (Postgres) unit of work."""
    return lambda: service.unit_of_work(engine, service.tables, service.name)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the test Redis; fails saying what to start when it does not answer."""
    await require_redis()
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def dev_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's signing key (sagakit.devauth): the apps verify tokens with its public half."""
    return ensure_key(tmp_path_factory.mktemp("auth") / "dev-signing-key.pem")


@pytest.fixture(scope="session")
def bearer(dev_key_file: Path) -> Callable[..., dict[str, str]]:
    """`bearer("alice", "customer")`: the Authorization header of a token signed with it."""
    key = load_key(dev_key_file)

    def header(subject: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue(key, subject, roles)}"}

    return header


@pytest.fixture
def settings(service: ServiceUnderTest, database_url: str, dev_key_file: Path) -> ServiceSettings:
    """The service's settings on the test servers with a stream prefix of its own.

    Tokens: dev mode with the run's key. Events: it signs with the test keyring's key of
    its name and accepts every producer's key, so envelopes written with
    `sagakit.testing.wire` pass its checks.
    """
    overrides = {"auth_mode": "dev", "auth_dev_key_file": str(dev_key_file)}
    return service.settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        event_prefix=unique_prefix(),
        **(overrides | key_settings(service.name) | dict(service.settings_overrides)),
    )


@pytest.fixture
async def service_app(
    service: ServiceUnderTest, settings: ServiceSettings
) -> AsyncIterator[FastAPI]:
    """The service's app, started (runtime, consumers, relay) for the test."""
    app = service.create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client_as(
    service_app: FastAPI, bearer: Callable[..., dict[str, str]]
) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """`client_as("alice")`: a client calling as customer alice; `client_as("ops", "admin")`
    with other roles; `client_as(None)` without a token."""
    opened: list[httpx.AsyncClient] = []

    def make(subject: str | None, *roles: str) -> httpx.AsyncClient:
        headers = bearer(subject, *(roles or ("customer",))) if subject is not None else None
        opened.append(app_client(service_app, headers))
        return opened[-1]

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
def client(client_as: Callable[..., httpx.AsyncClient]) -> httpx.AsyncClient:
    """The service running in process, and a client calling as an operator (admin, manager)."""
    return client_as("operator", "admin", "manager")


@pytest.fixture
def call_as(
    service: ServiceUnderTest, client_as: Callable[..., httpx.AsyncClient]
) -> Callable[[str, str | None], Awaitable[httpx.Response]]:
    """`await call_as("GET /bookings", "customer")`: one cell of the access matrix."""
    return lambda route, role: service.call_as(client_as, route, role)
