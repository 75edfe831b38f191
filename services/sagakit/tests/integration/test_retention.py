"""Old inbox rows are deleted in batches by every replica at once, recent ones kept."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import MetaData, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.retention import Expiry, purge
from sagakit.tables import messaging_tables
from sagakit.testing import eventually

INBOX = messaging_tables(MetaData()).inbox  # the test service's inbox (conftest)
OUTBOX = messaging_tables(MetaData()).outbox


async def add_inbox_rows(engine: AsyncEngine, consumer: str, count: int, age: timedelta) -> None:
    processed_at = datetime.now(UTC) - age
    rows = [
        {
            "consumer": consumer,
            "event_id": uuid.uuid4(),
            "event_type": "CREATED_BOOKING_EVENT",
            "processed_at": processed_at,
        }
        for _ in range(count)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(INBOX), rows)


async def rows_of(engine: AsyncEngine, consumer: str, older_than: timedelta) -> int:
    cutoff = datetime.now(UTC) - older_than
    query = select(func.count()).where(INBOX.c.consumer == consumer, INBOX.c.processed_at < cutoff)
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def test_two_replicas_purging_at_once_delete_each_old_row_once(engine: AsyncEngine) -> None:
    consumer = f"retained-{uuid.uuid4().hex[:8]}"
    await add_inbox_rows(engine, consumer, 2500, age=timedelta(days=31))
    await add_inbox_rows(engine, consumer, 20, age=timedelta(days=29))
    expiry = Expiry(INBOX, "processed_at", days=30)

    deleted = await asyncio.gather(purge(engine, expiry, 300), purge(engine, expiry, 300))

    assert sum(deleted) >= 2500  # other tests' old rows may go too; ours exactly once
    assert await rows_of(engine, consumer, timedelta(days=30)) == 0
    assert await rows_of(engine, consumer, timedelta(0)) == 20  # the recent ones stay


async def test_a_retention_of_zero_days_keeps_everything(engine: AsyncEngine) -> None:
    consumer = f"kept-{uuid.uuid4().hex[:8]}"
    await add_inbox_rows(engine, consumer, 5, age=timedelta(days=3650))
    assert await purge(engine, Expiry(INBOX, "processed_at", days=0), 100) == 0
    assert await rows_of(engine, consumer, timedelta(0)) == 5


async def test_a_running_service_purges_its_inbox_periodically(
    engine: AsyncEngine, start_runtime
) -> None:
    consumer = f"periodic-{uuid.uuid4().hex[:8]}"
    await start_runtime(inbox_retention_days=7, retention_interval_seconds=0.2)
    await add_inbox_rows(engine, consumer, 50, age=timedelta(days=8))
    await add_inbox_rows(engine, consumer, 5, age=timedelta(days=6))

    async def purged() -> bool:
        return await rows_of(engine, consumer, timedelta(days=7)) == 0

    assert await eventually(purged)
    assert await rows_of(engine, consumer, timedelta(0)) == 5


async def test_only_published_outbox_rows_older_than_the_window_are_deleted(
    engine: AsyncEngine, commit_created
) -> None:
    published_long_ago, published_recently, unpublished = [await commit_created() for _ in range(3)]
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for booking_id, published_at, created_at in (
            (published_long_ago, now - timedelta(hours=25), now - timedelta(hours=26)),
            (published_recently, now - timedelta(hours=1), now - timedelta(hours=26)),
            (unpublished, None, now - timedelta(hours=26)),  # Redis down for a day
        ):
            values = {"published_at": published_at, "created_at": created_at}
            await conn.execute(
                update(OUTBOX).where(OUTBOX.c.booking_id == booking_id).values(**values)
            )

    await purge(engine, Expiry(OUTBOX, "published_at", days=24 / 24), 100)

    async with engine.connect() as conn:
        query = select(OUTBOX.c.booking_id).where(
            OUTBOX.c.booking_id.in_([published_long_ago, published_recently, unpublished])
        )
        left = set((await conn.execute(query)).scalars())
    assert left == {published_recently, unpublished}
