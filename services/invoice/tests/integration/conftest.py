"""Real Postgres and Redis for the invoice service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from invoice.adapters.orm import messaging
from invoice.adapters.unit_of_work import SqlInvoiceUnitOfWork
from invoice.config import Settings
from invoice.entrypoints.app import create_app
from sagakit.db import create_engine
from sagakit.testing import REDIS_URL, fresh_database, require_redis, running_app, unique_prefix


@pytest.fixture(scope="session")
async def database_url() -> str:
    return await fresh_database("test_invoice", "invoice:migrations")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def new_uow(engine: AsyncEngine) -> Callable[[], SqlInvoiceUnitOfWork]:
    return lambda: SqlInvoiceUnitOfWork(engine, messaging, "invoice")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    await require_redis()
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, redis_url=REDIS_URL, event_prefix=unique_prefix())


@pytest.fixture
async def client(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings)) as client:
        yield client
