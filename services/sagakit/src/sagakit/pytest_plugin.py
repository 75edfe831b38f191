"""Fixtures every service's integration tests share (registered as a pytest plugin).

A service's `tests/integration/conftest.py` only describes itself:

    @pytest.fixture(scope="session")
    def service() -> ServiceUnderTest:
        return ServiceUnderTest("booking", messaging, SqlBookingUnitOfWork, Settings, create_app)

and gets `database_url` (a fresh, migrated `test_<service>` database), `engine`,
`new_uow`, `redis`, `settings` (unique stream prefix) and `client` (the app
running in process with its consumers and relay).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.db import create_engine
from sagakit.settings import ServiceSettings
from sagakit.tables import MessagingTables
from sagakit.testing import (
    DATABASE_PREFIX,
    REDIS_URL,
    fresh_database,
    key_settings,
    require_redis,
    running_app,
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


@pytest.fixture
def settings(service: ServiceUnderTest, database_url: str) -> ServiceSettings:
    """The service's settings on the test servers with a stream prefix of its own.

    It signs with the test keyring's key of its name and accepts every producer's key,
    so envelopes written with `sagakit.testing.wire` pass its checks.
    """
    return service.settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        event_prefix=unique_prefix(),
        **key_settings(service.name),
        **service.settings_overrides,
    )


@pytest.fixture
async def client(
    service: ServiceUnderTest, settings: ServiceSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """The service running in process (consumers and relay included), and an HTTP client."""
    async with running_app(service.create_app(settings)) as client:
        yield client
