import asyncio

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from sagakit.events import parse_envelope
from sagakit.outbox import OutboxMessage, OutboxRelay
from sagakit.testing import eventually
from sagakit.transport import JsonMessageFormat


async def outbox_size(engine, outbox_table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox_table)) or 0)


async def drain_everything(engine, outbox_table) -> None:
    async def ignore(messages: list[OutboxMessage]) -> None:
        return None

    await OutboxRelay(engine, outbox_table, ignore).drain()


async def test_relay_publishes_committed_events_in_order_and_empties_the_outbox(
    engine, outbox_table, redis: Redis, start_runtime, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    runtime = await start_runtime()
    ids = [await commit_created(runtime.relay.wake) for _ in range(3)]
    stream = runtime.bus.name("CREATED_BOOKING_EVENT")

    async def all_published() -> bool:
        return await redis.xlen(stream) >= 3

    assert await eventually(all_published)
    entries = await redis.xrange(stream)
    published = [parse_envelope(JsonMessageFormat.parse(f[b"__data__"])[0]) for _, f in entries]
    assert [e.booking_id for e in published] == ids
    assert await outbox_size(engine, outbox_table) == 0


async def test_rows_stay_in_the_outbox_when_publishing_fails(
    engine, outbox_table, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    await commit_created()

    async def redis_is_down(messages: list[OutboxMessage]) -> None:
        raise ConnectionError("redis is down")

    with pytest.raises(ConnectionError):
        await OutboxRelay(engine, outbox_table, redis_is_down).drain()
    assert await outbox_size(engine, outbox_table) == 1


async def test_two_relays_never_publish_the_same_row_twice(
    engine, outbox_table, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    for _ in range(40):
        await commit_created()
    published: list[str] = []

    async def slow_publish(messages: list[OutboxMessage]) -> None:
        await asyncio.sleep(0.01)
        published.extend(m.event_id for m in messages)

    relays = [OutboxRelay(engine, outbox_table, slow_publish, batch_size=5) for _ in range(2)]
    await asyncio.gather(*(relay.drain() for relay in relays))
    assert len(published) == 40
    assert len(set(published)) == 40


async def test_the_runtime_stops_promptly_even_right_after_a_commit(
    start_runtime, commit_created
) -> None:
    # Stops land at different moments of the relay's publish; none may hang.
    for ticks in range(0, 30, 3):
        runtime = await start_runtime()
        await commit_created(runtime.relay.wake)
        for _ in range(ticks):
            await asyncio.sleep(0)
        stopping = asyncio.create_task(runtime.stop())
        done, _ = await asyncio.wait({stopping}, timeout=10)
        assert done, f"stop() still waiting {ticks} ticks after a commit"
