import asyncio
import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from sagakit.events import parse_envelope
from sagakit.outbox import OutboxMessage, OutboxRelay
from sagakit.testing import eventually
from sagakit.wire import JsonMessageFormat


async def outbox_size(engine, outbox_table) -> int:
    """Rows the relay has yet to publish."""
    query = select(func.count()).where(outbox_table.c.published_at.is_(None))
    async with engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def kept_rows(engine, outbox_table, booking_id: uuid.UUID) -> list:
    query = select(outbox_table).where(outbox_table.c.booking_id == booking_id)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).mappings().all())


class Recorder:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def __call__(self, messages: list[OutboxMessage]) -> None:
        await asyncio.sleep(0.01)
        self.published.extend(m.event_id for m in messages)


async def drain_everything(engine, outbox_table) -> None:
    async def ignore(messages: list[OutboxMessage]) -> None:
        return None

    await OutboxRelay(engine, outbox_table, ignore).drain()


async def test_relay_publishes_committed_events_in_order_and_marks_them(
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

    async def all_marked() -> bool:  # marked up to MARK_DELAY_SECONDS after the publish
        return await outbox_size(engine, outbox_table) == 0

    assert await eventually(all_marked)


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


async def test_relay_marks_published_rows_and_keeps_them(
    engine, outbox_table, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    booking_id = await commit_created()
    record = Recorder()
    relay = OutboxRelay(engine, outbox_table, record)

    assert await relay.drain() == 1
    [row] = await kept_rows(engine, outbox_table, booking_id)
    assert row["published_at"] is not None  # kept, marked
    assert record.published == [str(row["event_id"])]
    assert await relay.drain() == 0  # a published row is never published again by the relay
    assert record.published == [str(row["event_id"])]


async def test_republish_sends_a_bookings_kept_rows_once_whoever_asks(
    engine, outbox_table, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    stuck, other = await commit_created(), await commit_created()
    await drain_everything(engine, outbox_table)
    async with engine.begin() as conn:  # published a while ago
        older = outbox_table.c.published_at - timedelta(minutes=5)
        await conn.execute(update(outbox_table).values(published_at=older))
    [before] = await kept_rows(engine, outbox_table, other)
    replicas = [Recorder(), Recorder()]
    relays = [OutboxRelay(engine, outbox_table, record) for record in replicas]

    counts = await asyncio.gather(
        *(relay.republish([stuck], timedelta(seconds=30)) for relay in relays)
    )

    [row] = await kept_rows(engine, outbox_table, stuck)
    assert sorted(counts) == [0, 1]  # two replicas heard the request: one re-published
    assert [e for r in replicas for e in r.published] == [str(row["event_id"])]
    again = await relays[0].republish([stuck], timedelta(seconds=30))
    assert again == 0  # just re-published: not again within the guard
    [after] = await kept_rows(engine, outbox_table, other)
    assert after["published_at"] == before["published_at"]  # another booking: untouched


async def test_republish_leaves_unpublished_rows_to_the_relay(
    engine, outbox_table, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    booking_id = await commit_created()
    record = Recorder()
    assert (
        await OutboxRelay(engine, outbox_table, record).republish([booking_id], timedelta(0)) == 0
    )
    assert record.published == []
    assert await outbox_size(engine, outbox_table) == 1


async def test_rows_a_commit_hands_over_are_published_without_a_sweep(
    engine, outbox_table, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    record = Recorder()
    relay = OutboxRelay(engine, outbox_table, record, poll_seconds=60)
    relay.start()
    try:
        await asyncio.sleep(0.2)  # the first sweep has run: from now on only handed rows
        booking_id = await commit_created(relay.wake)
        [row] = await kept_rows(engine, outbox_table, booking_id)
        assert await eventually(lambda: _marked(engine, outbox_table, booking_id))
        assert record.published == [str(row["event_id"])]
    finally:
        await relay.close(timeout=5)


async def test_a_handed_row_that_failed_to_publish_is_swept_after_the_grace(
    engine, outbox_table, commit_created
) -> None:
    await drain_everything(engine, outbox_table)
    published: list[str] = []
    failures = iter([True])

    async def flaky(messages: list[OutboxMessage]) -> None:
        if next(failures, False):
            raise ConnectionError("redis is down")
        published.extend(m.event_id for m in messages)

    grace = timedelta(seconds=0.5)
    relay = OutboxRelay(engine, outbox_table, flaky, poll_seconds=0.2, grace=grace)
    relay.start()
    try:
        await asyncio.sleep(0.1)
        booking_id = await commit_created(relay.wake)  # its publish fails
        assert await eventually(lambda: _marked(engine, outbox_table, booking_id))
        [row] = await kept_rows(engine, outbox_table, booking_id)
        assert published == [str(row["event_id"])]  # once, by the sweep
    finally:
        await relay.close(timeout=5)


async def _marked(engine, outbox_table, booking_id: uuid.UUID) -> bool:
    rows = await kept_rows(engine, outbox_table, booking_id)
    return bool(rows) and all(row["published_at"] is not None for row in rows)
