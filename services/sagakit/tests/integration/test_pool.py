"""A service process holds at most DB_POOL_SIZE + DB_MAX_OVERFLOW connections.

The chart's connection budget (tests/charts/test_postgres_budget.py) counts exactly this
sum per pod; here the real server's pg_stat_activity shows a runtime built from those
two settings never opens more, and closes the overflow when it is returned.
"""

import asyncio
import contextlib
import uuid

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.postgres import SqlUnitOfWork
from sagakit.runtime import ServiceRuntime, ServiceSpec
from sagakit.settings import ServiceSettings
from sagakit.tables import messaging_tables
from sagakit.testing import REDIS_URL


async def connections_named(engine: AsyncEngine, application_name: str) -> int:
    async with engine.connect() as conn:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
        return int(await conn.scalar(query, {"name": application_name}) or 0)


async def settled(engine: AsyncEngine, application_name: str, expected: int) -> int:
    """The count once it reaches `expected` (a closed backend leaves pg_stat_activity a
    moment after its client hung up), or the last count after 10 s."""
    for _ in range(100):
        count = await connections_named(engine, application_name)
        if count == expected:
            break
        await asyncio.sleep(0.1)
    return count


def runtime_with_pool(database_url: str, name: str, size: int, overflow: int) -> ServiceRuntime:
    """A runtime that is built but not started: only its engine is used."""
    settings = ServiceSettings(
        service_name="pooled",
        database_url=f"{database_url}?application_name={name}",
        redis_url=REDIS_URL,
        db_pool_size=size,
        db_max_overflow=overflow,
    )
    spec = ServiceSpec(
        name="pooled",
        tables=messaging_tables(MetaData()),
        unit_of_work=SqlUnitOfWork,
        publishes=(),
    )
    return ServiceRuntime(spec, settings)


async def test_a_runtime_holds_at_most_pool_size_plus_overflow_connections(
    database_url: str, engine: AsyncEngine
) -> None:
    name = f"pool-{uuid.uuid4().hex[:8]}"
    runtime = runtime_with_pool(database_url, name, size=2, overflow=1)
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(runtime.engine.connect()) for _ in range(3)]
        for conn in held:
            await conn.execute(text("SELECT 1"))
        assert await connections_named(engine, name) == 3

        async def fourth() -> None:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        waiting = asyncio.create_task(fourth())
        await asyncio.sleep(0.2)
        assert not waiting.done(), "a fourth connection was opened instead of waiting"
        await held[0].close()  # returned to the pool: the waiting caller gets it
        await waiting
        assert await connections_named(engine, name) == 3
    # All returned: the overflow connection is closed, the pool keeps its two.
    assert await settled(engine, name, 2) == 2
    await runtime.engine.dispose()
    await runtime.redis.aclose()
    assert await settled(engine, name, 0) == 0
