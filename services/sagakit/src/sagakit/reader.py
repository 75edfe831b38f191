"""Our read loops: one stream for one consumer group (XREADGROUP, handle, XACK), and one
Pub/Sub channel.

`StreamReader` replaces FastStream's batch subscriber for new entries (sagakit.transport keeps
FastStream's subscriber for entries left pending, and for the AsyncAPI document). The
profile showed FastStream's per-message layers (context, middleware, logging scope)
costing more than the handler's own work for the small batches of a saga, and one round
trip per XACK. Here the ids handled are acked in the same round trip as the next read:
XACK first, then XREADGROUP, in one pipeline. An ack sent later than the commit is safe:
until it lands the entry stays pending, and a redelivery is a duplicate the inbox skips.

Background events (`linger` > 0: what no saga step waits for) are read at most every
`linger` seconds: after a batch the reader pauses, so under load the next read takes what
arrived meanwhile as one batch (one transaction) instead of one or two events at a time.

It behaves as the watchdog expects of a subscriber (sagakit.watchdog): when Redis forgot
the group (NOGROUP) the reader stops, `running` turns false, and `start()` resumes it once
the group exists again. While Redis is out of reach it keeps trying, with a backoff of up
to a second. Stopping lets the batch in hand finish and be acked; a read still blocked is
cancelled (what it took stays pending on this consumer: sagakit.groups.hand_back).

`ChannelListener` replaces FastStream's channel subscriber for the same reason. It is
subscribed when `start()` returns, hands each message to the channel's batcher
(sagakit.batching), and after a lost connection keeps trying as the stream reader does;
redis-py reconnects and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from redis.exceptions import ResponseError

from sagakit.delivery import Delivery
from sagakit.entries import entry_delivery
from sagakit.wire import DATA_FIELD, JsonMessageFormat

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)

# Handles one read's deliveries; returns the ids to ack (those handled or dead-lettered).
BatchHandler = Callable[[list[Delivery]], Awaitable[list[str]]]


class ReadLoop:
    """A read loop as the watchdog sees a subscriber: `running`, `start()`, `stop()`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._reading = False  # blocked in a read: stopping cancels it, nothing is in hand

    def __repr__(self) -> str:
        return self._name

    @property
    def running(self) -> bool:
        """Reading, or about to read again."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start reading (again, after a stop)."""
        if self.running:
            return
        await self._prepare()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self, timeout: float | None = None) -> None:
        """Stop reading: what is in hand finishes (within `timeout`)."""
        task, self._stopping = self._task, True
        if task is None or task.done():
            return
        if self._reading:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _prepare(self) -> None:
        """What must be in place when `start()` returns."""

    async def _run(self) -> None:
        raise NotImplementedError

    async def _retry_later(self, pause: float, exc: Exception) -> float:
        """Log, wait, and return the next pause (doubling, at most a second)."""
        log.warning("%s cannot read, again in %.2fs: %r", self, pause, exc)
        await asyncio.sleep(pause)
        return min(pause * 2, 1.0)


class StreamReader(ReadLoop):
    """New entries of `stream` for `group`, read as `consumer`, `count` at most per read."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        count: int,
        block_ms: int,
        handle: BatchHandler,
        linger: float = 0.0,
    ) -> None:
        super().__init__(f"StreamReader({stream!r}, group={group!r})")
        self.stream, self.group, self.consumer = stream, group, consumer
        self._redis, self._count, self._block_ms, self._handle = redis, count, block_ms, handle
        self._linger = linger

    async def _run(self) -> None:
        acks: list[str] = []
        pause = 0.05
        try:
            while not self._stopping:
                try:
                    entries = await self._read(acks)
                except Exception as exc:  # Redis restarting, failing over, out of reach
                    if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                        log.warning("%s stopped: its group is gone (%s)", self, exc)
                        return  # the watchdog recreates the group and starts it again
                    pause = await self._retry_later(pause, exc)
                    continue
                acks, pause = [], 0.05
                if entries:
                    acks = await self._handle_safely(entries)
                    await self._wait_for_more()
        finally:
            if acks:  # the last batch's, or those of a read cancelled in flight (idempotent)
                try:
                    await self._redis.xack(self.stream, self.group, *acks)
                except Exception as exc:  # pending still: claimed again, deduped by the inbox
                    log.warning("%s could not ack %d entries: %r", self, len(acks), exc)

    async def _wait_for_more(self) -> None:
        """Background events: let the next batch gather for `linger` seconds. Nothing is
        in hand meanwhile (the acks go with the next read, or on the way out), so a stop
        cancels the wait."""
        if self._linger <= 0 or self._stopping:
            return
        self._reading = True
        try:
            await asyncio.sleep(self._linger)
        finally:
            self._reading = False

    async def _read(self, acks: list[str]) -> list[Delivery]:
        self._reading = True
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                if acks:
                    pipe.xack(self.stream, self.group, *acks)
                pipe.xreadgroup(
                    self.group,
                    self.consumer,
                    {self.stream: ">"},
                    count=self._count,
                    block=self._block_ms,
                )
                replies = await pipe.execute()
        finally:
            self._reading = False
        read = replies[-1] or []
        return [
            entry_delivery(self.stream, message_id, fields)
            for _, messages in read
            for message_id, fields in messages
        ]

    async def _handle_safely(self, entries: list[Delivery]) -> list[str]:
        try:
            return await self._handle(entries)
        except Exception:
            # Not acked: the entries stay pending and are claimed again after the idle time.
            log.exception("%s: a batch of %d failed outside the policy", self, len(entries))
            return []


class ChannelListener(ReadLoop):
    """Messages of one Pub/Sub channel, each handed to `deliver` (a batcher's queue)."""

    def __init__(
        self,
        redis: Redis,
        channel: str,
        *,
        poll_seconds: float,
        deliver: Callable[[Delivery], Awaitable[None]],
    ) -> None:
        super().__init__(f"ChannelListener({channel!r})")
        self.channel = channel
        self._redis, self._poll, self._deliver = redis, poll_seconds, deliver
        self._pubsub: PubSub | None = None

    async def _prepare(self) -> None:
        # Subscribed before start() returns: what is published from then on is heard.
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
        except BaseException:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        self._pubsub = pubsub

    async def _run(self) -> None:
        pubsub, pause = self._pubsub, 0.05
        assert pubsub is not None
        try:
            while not self._stopping:
                self._reading = True
                try:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self._poll
                    )
                except Exception as exc:  # redis-py reconnects and subscribes again
                    self._reading = False
                    pause = await self._retry_later(pause, exc)
                    continue
                self._reading, pause = False, 0.05
                if message is not None and message["type"] == "message":
                    data = message["data"]
                    body, headers = JsonMessageFormat.parse(data)
                    await self._deliver(
                        Delivery(self.channel, "", body, {DATA_FIELD: data}, headers)
                    )
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
