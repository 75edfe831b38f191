"""Real Postgres and Redis for the manager service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from manager.adapters.orm import messaging
from manager.adapters.unit_of_work import SqlManagerUnitOfWork
from manager.config import Settings
from manager.entrypoints.app import create_app
from manager.service_layer import handlers
from sagakit.db import create_engine
from sagakit.events import CreatedBooking
from sagakit.testing import REDIS_URL, fresh_database, require_redis, running_app, unique_prefix


@pytest.fixture(scope="session")
async def database_url() -> str:
    return await fresh_database("test_manager", "manager:migrations")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def new_uow(engine: AsyncEngine) -> Callable[[], SqlManagerUnitOfWork]:
    return lambda: SqlManagerUnitOfWork(engine, messaging, "manager")


@pytest.fixture
def pending(
    new_uow: Callable[[], SqlManagerUnitOfWork],
) -> Callable[..., Awaitable[uuid.UUID]]:
    """Store a pending approval as if CREATED_BOOKING_EVENT had arrived in manual mode."""

    async def store(customer_id: str = "alice", amount: str = "120.00") -> uuid.UUID:
        event = CreatedBooking(
            booking_id=uuid.uuid4(), customer_id=customer_id, item="Room 7", amount=Decimal(amount)
        )
        await handlers.created_booking(event, new_uow(), auto_approve=False)
        return event.booking_id

    return store


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    await require_redis()
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Manual mode: approvals wait for a decision over HTTP."""
    return Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        event_prefix=unique_prefix(),
        auto_approve=False,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings)) as client:
        yield client
