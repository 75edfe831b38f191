"""The read loops on real Redis. The stream reader: what it acks and when, how it stops,
what it does when its group is gone or Redis is out of reach. The channel listener:
subscribed when started, and subscribed again after Redis restarted."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from sagakit.delivery import Delivery
from sagakit.reader import ChannelListener, StreamReader
from sagakit.testing import eventually, free_ports, unique_prefix
from sagakit.wire import DATA_FIELD, frame

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


async def test_a_stop_during_the_background_pause_ends_it_and_acks_the_batch(
    redis: Redis, stream: str
) -> None:
    handle = Recorder()
    reader = StreamReader(
        redis, stream, GROUP, "c1", count=10, block_ms=100, handle=handle, linger=60.0
    )
    await reader.start()
    await redis.xadd(stream, {"__data__": b'"x"'})
    await asyncio.wait_for(handle.entered.wait(), 10)
    await asyncio.sleep(0.1)  # handled; pausing for a minute, its ack not sent yet
    assert len(await pending(redis, stream)) == 1
    await asyncio.wait_for(reader.stop(timeout=30), 5)  # not a minute
    assert await pending(redis, stream) == []  # acked on the way out
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


class Heard:
    """What a channel listener delivered."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    async def bodies(self) -> list[bytes]:
        return [delivery.body for delivery in self.deliveries]


async def test_a_listener_hears_what_is_published_once_it_started(redis: Redis) -> None:
    channel, heard = f"{unique_prefix()}channel", Heard()
    listener = ChannelListener(redis, channel, poll_seconds=0.1, deliver=heard)
    await listener.start()
    try:
        data = frame('{"n": 1}', {"correlation_id": "c-1", "traceparent": "t"})
        assert await redis.publish(channel, data) == 1  # subscribed when start() returned
        assert await eventually(lambda: _equal(heard.bodies(), [b'{"n": 1}']))
        (delivery,) = heard.deliveries
        assert delivery.origin == channel and delivery.raw == {DATA_FIELD: data}
        assert delivery.headers["traceparent"] == "t"
    finally:
        await asyncio.wait_for(listener.stop(timeout=5), 5)
    assert not listener.running
    assert await redis.publish(channel, b"late") == 0  # unsubscribed once stopped


class PrivateRedis:
    """A redis-server of the test's own, which the test may stop and start again."""

    def __init__(self, binary: str, port: int) -> None:
        self.port = port
        self._command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._server = subprocess.Popen(self._command, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed: install Redis (apt-get install redis-server)")
    (port,) = free_ports(1)
    server = PrivateRedis(binary, port)
    server.start()
    yield server
    server.stop()


async def test_a_listener_subscribes_again_after_redis_restarted(
    private_redis: PrivateRedis,
) -> None:
    redis = Redis(host="127.0.0.1", port=private_redis.port)
    assert await eventually(lambda: _pings(redis))
    heard = Heard()
    listener = ChannelListener(redis, "restarting", poll_seconds=0.1, deliver=heard)
    await listener.start()
    try:
        await asyncio.to_thread(private_redis.stop)
        await asyncio.sleep(0.3)  # the listener's reads fail meanwhile
        await asyncio.to_thread(private_redis.start)
        # Published until someone listens: the listener subscribed again on its own.
        assert await eventually(lambda: _heard_by(redis, "restarting"), timeout=20)
        assert await eventually(lambda: _equal(heard.bodies(), [b"back"]))
        assert listener.running
    finally:
        await asyncio.wait_for(listener.stop(timeout=5), 5)
        await redis.aclose()


async def _pings(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:
        return False


async def _heard_by(redis: Redis, channel: str) -> bool:
    try:
        return await redis.publish(channel, b"back") == 1
    except Exception:
        return False


async def _equal(value, expected) -> bool:
    return await value == expected


async def _list(value: list[str]) -> list[str]:
    return value


async def _false(value: bool) -> bool:
    return not value
