"""The stream reader on real Redis: what it acks and when, how it stops, and what it does
when its group is gone or Redis is out of reach."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from sagakit.delivery import Delivery
from sagakit.reader import StreamReader
from sagakit.testing import eventually, free_ports, unique_prefix

GROUP = "readers"


class Recorder:
    """A batch handler that records what it got and acks what `ack` allows."""

    def __init__(self) -> None:
        self.batches: list[list[Delivery]] = []
        self.ack = lambda delivery: True
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, deliveries: list[Delivery]) -> list[str]:
        self.batches.append(deliveries)
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        return [delivery.origin_id for delivery in deliveries if self.ack(delivery)]

    @property
    def seen(self) -> list[str]:
        return [delivery.origin_id for batch in self.batches for delivery in batch]


@pytest.fixture
async def stream(redis: Redis) -> AsyncIterator[str]:
    name = f"{unique_prefix()}reader"
    await redis.xgroup_create(name, GROUP, id="0", mkstream=True)
    yield name
    await redis.delete(name)


def reader_on(redis: Redis, stream: str, handle: Recorder, block_ms: int = 100) -> StreamReader:
    return StreamReader(redis, stream, GROUP, "c1", count=10, block_ms=block_ms, handle=handle)


async def pending(redis: Redis, stream: str) -> list[str]:
    entries = await redis.xpending_range(stream, GROUP, min="-", max="+", count=100)
    return [entry["message_id"].decode() for entry in entries]


async def test_what_the_handler_returns_is_acked_and_the_rest_stays_pending(
    redis: Redis, stream: str
) -> None:
    handle = Recorder()
    handle.ack = lambda delivery: delivery.body != b'"keep"'
    ids = [(await redis.xadd(stream, {"__data__": body})).decode() for body in (b'"a"', b'"keep"')]
    reader = reader_on(redis, stream, handle)
    await reader.start()
    try:
        assert await eventually(lambda: _equal(pending(redis, stream), [ids[1]]))
        assert handle.seen == ids  # one read, in stream order
        assert [len(batch) for batch in handle.batches] == [2]
        assert [d.body for d in handle.batches[0]] == [b'"a"', b'"keep"']
    finally:
        await reader.stop()
    assert not reader.running


async def test_stopping_lets_the_batch_in_hand_finish_and_acks_it(
    redis: Redis, stream: str
) -> None:
    handle = Recorder()
    handle.hold = asyncio.Event()
    await redis.xadd(stream, {"__data__": b'"x"'})
    reader = reader_on(redis, stream, handle)
    await reader.start()
    await asyncio.wait_for(handle.entered.wait(), 10)
    stopping = asyncio.create_task(reader.stop(timeout=30))
    await asyncio.sleep(0.2)
    assert not stopping.done()  # waits for the batch in hand
    handle.hold.set()
    await asyncio.wait_for(stopping, 10)
    assert await pending(redis, stream) == []  # acked on the way out, not left pending
    assert not reader.running


async def test_a_blocked_read_is_cancelled_at_once_on_stop(redis: Redis, stream: str) -> None:
    reader = reader_on(redis, stream, Recorder(), block_ms=60_000)
    await reader.start()
    await asyncio.sleep(0.2)  # blocked in XREADGROUP for up to a minute
    await asyncio.wait_for(reader.stop(timeout=30), 5)
    assert not reader.running


async def test_a_lost_group_stops_the_reader_until_started_again(redis: Redis, stream: str) -> None:
    handle = Recorder()
    reader = reader_on(redis, stream, handle)
    await reader.start()
    await redis.delete(stream)  # Redis forgot the stream and its group: NOGROUP
    assert await eventually(lambda: _false(reader.running))

    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)  # as the watchdog does
    added = (await redis.xadd(stream, {"__data__": b'"again"'})).decode()
    await reader.start()
    try:
        assert await eventually(lambda: _equal(_list(handle.seen), [added]))
    finally:
        await reader.stop()


async def test_out_of_reach_redis_keeps_it_trying_and_stoppable(stream: str) -> None:
    (closed,) = free_ports(1)
    nowhere = Redis(host="127.0.0.1", port=closed, socket_connect_timeout=0.2)
    reader = reader_on(nowhere, stream, Recorder())
    await reader.start()
    try:
        await asyncio.sleep(0.5)  # a few failed attempts
        assert reader.running  # still trying: not a lost group
    finally:
        await asyncio.wait_for(reader.stop(timeout=5), 5)
        await nowhere.aclose()


async def _equal(value, expected) -> bool:
    return await value == expected


async def _list(value: list[str]) -> list[str]:
    return value


async def _false(value: bool) -> bool:
    return not value
