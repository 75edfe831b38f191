"""Pub/Sub messages handled in batches: what has arrived while the last batch ran.

Redis Pub/Sub hands messages over one at a time. Each channel's messages go into a
bounded queue; one worker takes the first that waits and whatever else has arrived
(up to `size`) and handles them as one batch (sagakit.consumer: one transaction), or
one by one under the Pub/Sub policy when the batch fails. Idle, a batch is one message
and costs what it cost before; under load batches grow and the per-message costs
(transaction, commit) are shared. A full queue makes the subscriber wait, so the
backlog stays in Redis' output buffer instead of growing here. For background events
(`linger`: what no saga step waits for) the worker pauses after each batch, so under
load the next one is larger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextvars import Context

from sagakit.consumer import EventConsumer
from sagakit.delivery import Delivery
from sagakit.uow import Handler

log = logging.getLogger(__name__)


class ChannelBatcher:
    """One channel's queue and the worker that handles it in batches."""

    def __init__(
        self, consumer: EventConsumer, handler: Handler, size: int, linger: float = 0.0
    ) -> None:
        self._consumer = consumer
        self._handler = handler
        self._size = size
        self._linger = linger  # > 0: background events, a batch gathers this long
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=size * 2)
        self._worker: asyncio.Task[None] | None = None

    async def put(self, delivery: Delivery) -> None:
        """Queue a delivery (waits while the queue is full); starts the worker if needed."""
        if self._worker is None or self._worker.done():
            # A context of its own: not the first message's (FastStream's, its trace's).
            worker = self._work()
            self._worker = asyncio.create_task(worker, name="batches", context=Context())
        await self._queue.put(delivery)

    async def drain(self) -> None:
        """Wait until everything queued was handled, then stop the worker."""
        await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._handle(batch)
            except Exception:  # the policy dead-letters; this is a bug in it, keep going
                log.exception("a batch of %d channel messages failed", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if self._linger > 0:  # background events: the next batch gathers meanwhile
                await asyncio.sleep(self._linger)

    async def _handle(self, batch: list[Delivery]) -> None:
        if len(batch) > 1 and await self._consumer.handle_batch(batch, self._handler):
            return
        for delivery in batch:
            await self._consumer.on_channel(delivery, self._handler)
