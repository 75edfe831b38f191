"""Reads one stream for one consumer group: a loop of XREADGROUP, handle, XACK.

This replaces FastStream's batch subscriber for new entries (sagakit.transport keeps
FastStream's subscriber for entries left pending, and for the AsyncAPI document). The
profile showed FastStream's per-message layers (context, middleware, logging scope)
costing more than the handler's own work for the small batches of a saga, and one round
trip per XACK. Here the ids handled are acked in the same round trip as the next read:
XACK first, then XREADGROUP, in one pipeline. An ack sent later than the commit is safe:
until it lands the entry stays pending, and a redelivery is a duplicate the inbox skips.

It behaves as the watchdog expects of a subscriber (sagakit.watchdog): when Redis forgot
the group (NOGROUP) the reader stops, `running` turns false, and `start()` resumes it once
the group exists again. While Redis is out of reach it keeps trying, with a backoff of up
to a second. Stopping lets the batch in hand finish and be acked; a read still blocked is
cancelled (what it took stays pending on this consumer: sagakit.groups.hand_back).
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

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

# Handles one read's deliveries; returns the ids to ack (those handled or dead-lettered).
BatchHandler = Callable[[list[Delivery]], Awaitable[list[str]]]


class StreamReader:
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
    ) -> None:
        self.stream, self.group, self.consumer = stream, group, consumer
        self._redis, self._count, self._block_ms, self._handle = redis, count, block_ms, handle
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._reading = False

    def __repr__(self) -> str:
        return f"StreamReader({self.stream!r}, group={self.group!r})"

    @property
    def running(self) -> bool:
        """Reading, or about to read again."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start reading (again, after a stop)."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"read:{self.stream}:{self.group}")

    async def stop(self, timeout: float | None = None) -> None:
        """Stop reading: the batch in hand finishes and is acked (within `timeout`)."""
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
                    log.warning("%s cannot read, again in %.2fs: %r", self, pause, exc)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 1.0)
                    continue
                acks, pause = [], 0.05
                if entries:
                    acks = await self._handle_safely(entries)
        finally:
            if acks:  # the last batch's, or those of a read cancelled in flight (idempotent)
                try:
                    await self._redis.xack(self.stream, self.group, *acks)
                except Exception as exc:  # pending still: claimed again, deduped by the inbox
                    log.warning("%s could not ack %d entries: %r", self, len(acks), exc)

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
