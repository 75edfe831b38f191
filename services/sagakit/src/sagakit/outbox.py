"""The outbox relay: publishes committed outbox rows, then marks them published.

Unpublished rows (`published_at IS NULL`, a partial index) are claimed with
`FOR UPDATE SKIP LOCKED`, so several replicas relay in parallel without publishing
a row twice while it is locked; the mark commits only after Redis took the batch. A
crash between publishing and committing publishes the row again on restart: delivery
is at least once, and consumers dedupe by `event_id` in their inbox. At shutdown,
`close()` drains the outbox once more, so what the last requests and handlers
committed leaves now rather than at the next start.

Published rows are kept, not deleted: if Redis loses them (a restart without
persistence, a failover), `republish` sends them again when the reconciler asks
(sagakit.reconcile). The retention job deletes them after OUTBOX_RETENTION_HOURS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.waiting import cancel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One committed event waiting to be published."""

    event_type: str
    event_id: str
    body: str
    headers: dict[str, Any]


Publish = Callable[[list[OutboxMessage]], Awaitable[None]]


class OutboxRelay:
    """Publishes as soon as a commit wakes it, and polls as a safety net."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        publish: Publish,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._publish = publish
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the relay loop in the background."""
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def close(self, timeout: float) -> int | None:
        """Stop the loop after its batch in hand, then drain once more, within `timeout`.

        Returns how many rows the last drain published; None when it did not finish (the
        rows stay in the outbox for the next start).
        """
        if self._task is None:
            return None
        self.stop()
        published: int | None = None
        try:
            async with asyncio.timeout(timeout):
                await asyncio.wait({self._task})
                published = await self.drain()
        except TimeoutError:
            log.warning("outbox not drained within %gs; the next start publishes the rest", timeout)
        except Exception as exc:
            log.warning("last outbox drain failed (%r); the next start publishes the rest", exc)
        await cancel(self._task)
        return published

    def wake(self) -> None:
        """Ask the relay to publish now (called after a commit that wrote outbox rows)."""
        self._wakeup.set()

    def stop(self) -> None:
        """Ask the loop to end; it checks between batches, so no batch is cut in half."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        """Relay until stopped; errors (Redis or database down) back off and retry."""
        backoff = self._poll_seconds
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self.drain()
                backoff = self._poll_seconds
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            await self._sleep(self._poll_seconds)

    async def _sleep(self, seconds: float) -> None:
        # Wakes early on a commit or stop(); asyncio.timeout, unlike wait_for on 3.11,
        # never swallows a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()

    async def drain(self) -> int:
        """Publish until the outbox is empty; returns how many rows were published."""
        total = 0
        while True:
            published = await self.publish_batch()
            total += published
            if published < self._batch_size:
                return total

    async def publish_batch(self) -> int:
        """Publish one batch in one transaction; the rows stay unpublished if it fails.

        One statement claims and marks the batch (UPDATE .. SET published_at RETURNING
        over unpublished rows locked with SKIP LOCKED); the mark commits only after
        Redis took the messages.
        """
        table = self._outbox
        claimed = (
            select(table.c.id)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.id)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        query = (
            update(table)
            .where(table.c.id.in_(claimed))
            .values(published_at=func.now())
            .returning(*_columns(table))
        )
        return await self._publish_rows(query)

    async def republish(self, booking_ids: Sequence[uuid.UUID], guard: timedelta) -> int:
        """Publish again the kept rows of these bookings (same event ids, bodies, headers).

        Only rows published more than `guard` ago: when several replicas hear the same
        request, the first one's mark (published_at moves to now, which also keeps the
        row from retention a while longer) makes the others skip it. Unpublished rows
        are the relay's. Returns how many were published.
        """
        table = self._outbox
        query = (
            update(table)
            .where(table.c.booking_id.in_(list(booking_ids)))
            .where(table.c.published_at < func.now() - guard)
            .values(published_at=func.now())
            .returning(*_columns(table))
        )
        return await self._publish_rows(query)

    async def _publish_rows(self, query: Any) -> int:
        async with self._engine.begin() as conn:
            rows = sorted((await conn.execute(query)).all(), key=lambda row: row.id)
            if not rows:
                return 0
            await self._publish(
                [OutboxMessage(r.event_type, str(r.event_id), r.body, r.headers) for r in rows]
            )
        return len(rows)


def _columns(table: Table) -> tuple[Any, ...]:
    return (table.c.id, table.c.event_type, table.c.event_id, table.c.body, table.c.headers)
