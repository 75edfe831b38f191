"""Old dead letters are trimmed by age; only idle consumers without pending entries are reaped.

Real Redis streams under a unique prefix, deleted at the end.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.housekeeping import oldest_undone, reap_consumers, trim_dead_letters
from sagakit.retention import Expiry, purge
from sagakit.testing import REDIS_URL, eventually, require_redis, unique_prefix

from .test_retention import INBOX, add_inbox_rows, rows_of

DAY_MS = 86_400_000


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    """The shared Redis; the test's keys (under its own prefix) are deleted after it."""
    await require_redis()
    client = Redis.from_url(REDIS_URL)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def add_dead_letter(redis: Redis, stream: str, age_days: float) -> None:
    millis = int(time.time() * 1000 - age_days * DAY_MS)
    await redis.xadd(stream, {"error": f"{age_days} days old"}, id=f"{millis}-*")


async def test_dead_letters_older_than_the_retention_are_trimmed(redis: Redis, prefix: str) -> None:
    stream = f"{prefix}saga.dead-letters"
    for age in (40, 31, 29, 0):
        await add_dead_letter(redis, stream, age)

    assert await trim_dead_letters(redis, stream, days=0) == 0  # 0: kept forever
    assert await trim_dead_letters(redis, stream, days=30) == 2

    left = [fields[b"error"] for _, fields in await redis.xrange(stream)]
    assert left == [b"29 days old", b"0 days old"]


async def test_only_idle_consumers_without_pending_entries_are_reaped(
    redis: Redis, prefix: str
) -> None:
    stream, group = f"{prefix}CREATED_BOOKING_EVENT", "booking"
    await redis.xgroup_create(stream, group, id="$", mkstream=True)
    await redis.xadd(stream, {"n": "1"})
    for name in ("gone", "own"):
        await redis.xgroup_createconsumer(stream, group, name)
    await redis.xreadgroup(group, "busy", {stream: ">"}, count=1)  # one pending, never acked
    await asyncio.sleep(0.3)  # the three above are idle longer than the threshold below
    entry = await redis.xadd(stream, {"n": "2"})
    await redis.xreadgroup(group, "alive", {stream: ">"}, count=1)  # reads and acks: idle ~0
    await redis.xack(stream, group, entry)

    reaped = await reap_consumers(redis, [(stream, group)], own="own", idle_seconds=0.2)

    assert reaped == [f"{stream}/{group}/gone"]
    consumers = {c["name"]: c["pending"] for c in await redis.xinfo_consumers(stream, group)}
    assert consumers == {b"busy": 1, b"own": 0, b"alive": 0}
    assert await reap_consumers(redis, [(f"{stream}-none", group)], "own", 0.2) == []


async def test_a_running_service_trims_its_dead_letters_periodically(start_runtime) -> None:
    runtime = await start_runtime(retention_interval_seconds=0.2, dead_letter_retention_days=1)
    stream = runtime.dead_letters.stream
    await add_dead_letter(runtime.redis, stream, 2)
    await add_dead_letter(runtime.redis, stream, 0)

    async def trimmed() -> bool:
        return int(await runtime.redis.xlen(stream)) == 1

    assert await eventually(trimmed)
    await runtime.redis.delete(stream)


async def test_the_inbox_keeps_what_a_group_may_still_deliver(
    redis: Redis, prefix: str, engine: AsyncEngine
) -> None:
    stream, group = f"{prefix}CREATED_BOOKING_EVENT", "booking"
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    now = int(time.time() * 1000)
    ids = [f"{now - days * DAY_MS}-0" for days in (10, 5, 1)]
    for entry in ids:
        await redis.xadd(stream, {"n": entry}, id=entry)
    groups = [(stream, group)]
    await redis.xreadgroup(group, "c", {stream: ">"}, count=2)  # 10 and 5 days old
    await redis.xack(stream, group, ids[0])

    def days_ago(days: float) -> datetime:
        return datetime.fromtimestamp((now - days * DAY_MS) / 1000, UTC)

    assert await oldest_undone(redis, groups) == days_ago(5)  # pending, and behind
    await redis.xack(stream, group, ids[1])
    assert await oldest_undone(redis, groups) == days_ago(5)  # the day-1 entry is to come

    consumer = f"floor-{uuid.uuid4().hex[:8]}"
    await add_inbox_rows(engine, consumer, 3, age=timedelta(days=8))
    await add_inbox_rows(engine, consumer, 2, age=timedelta(days=3))
    expiry = Expiry(INBOX, "processed_at", days=1, floor=lambda: oldest_undone(redis, groups))
    await purge(engine, expiry, batch_size=100)
    assert await rows_of(engine, consumer, timedelta(0)) == 2  # 3 days old, yet kept

    await redis.xreadgroup(group, "c", {stream: ">"}, count=1)
    await redis.xack(stream, group, ids[2])
    assert await oldest_undone(redis, groups) is None  # all done: the retention alone
    await purge(engine, expiry, batch_size=100)
    assert await rows_of(engine, consumer, timedelta(0)) == 0
