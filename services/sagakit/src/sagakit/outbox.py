"""The outbox relay: publishes committed outbox rows, then marks them published.

The fast way: a commit in this process hands its rows over (`wake(messages)`), the
relay publishes them at once, without reading them back, and marks them published a
little later (`MARK_DELAY_SECONDS`), with one UPDATE for everything published
meanwhile. Under load, what several commits handed over while the relay was busy goes
out as one pipeline, and many publishes share one mark.

The safety net, every `poll_seconds`: unpublished rows (`published_at IS NULL`, a
partial index) older than `grace` are claimed with `FOR UPDATE SKIP LOCKED`, so
several replicas relay in parallel without publishing a row twice while it is locked,
and the mark commits only after Redis took the batch. They are rows whose process died
before publishing them, or whose publish failed (Redis down). A crash between publishing
and marking publishes the row again: delivery is at least once, and consumers dedupe by
`event_id` in their inbox. At shutdown, `close()` drains the outbox once more (no
grace), so what the last requests and handlers committed leaves now rather than later.

Published rows are kept, not deleted: if Redis loses them (a restart without
persistence, a failover), `republish` sends them again when the reconciler asks
(sagakit.reconcile). The retention job deletes them after OUTBOX_RETENTION_HOURS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.sql import Query
from sagakit.waiting import cancel

log = logging.getLogger(__name__)

MARK_DELAY_SECONDS = 0.1
"""How long published rows may wait to be marked, so that one UPDATE marks many."""


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
        grace: timedelta | None = None,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._publish = publish
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        # Handed-over rows are published within milliseconds; the sweep leaves them alone.
        default = timedelta(seconds=max(min(2 * poll_seconds, 5.0), 5 * MARK_DELAY_SECONDS))
        self._grace = grace if grace is not None else default
        self._handed: list[OutboxMessage] = []
        self._unmarked: list[uuid.UUID] = []  # published, to be marked
        self._mark_due = 0.0
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

    def wake(self, messages: Sequence[OutboxMessage] = ()) -> None:
        """Ask the relay to publish now (called after a commit that wrote outbox rows);
        `messages`: the rows that commit wrote, published without reading them back."""
        self._handed.extend(messages)
        self._wakeup.set()

    def stop(self) -> None:
        """Ask the loop to end; it checks between batches, so no batch is cut in half."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        """Relay until stopped; errors (Redis or database down) back off and retry."""
        backoff = self._poll_seconds
        swept = 0.0
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self.publish_handed()
                if time.monotonic() - swept >= self._poll_seconds:
                    # The first pass takes every row: those an earlier process left.
                    grace = self._grace if swept else None
                    swept = time.monotonic()
                    await self.drain(grace)
                backoff = self._poll_seconds
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            wake_at = swept + self._poll_seconds
            if self._unmarked:
                wake_at = min(wake_at, self._mark_due)
            await self._sleep(max(0.0, wake_at - time.monotonic()))

    async def publish_handed(self, mark_now: bool = False) -> int:
        """Publish what commits handed over; mark what was published once
        `MARK_DELAY_SECONDS` passed since the oldest unmarked publish (or `mark_now`).

        A batch whose publish fails is dropped here: its rows stay unpublished and the
        sweep publishes them once they are older than the grace period.
        """
        total = 0
        while self._handed:
            batch = self._handed[: self._batch_size]
            del self._handed[: self._batch_size]
            await self._publish(batch)
            if not self._unmarked:
                self._mark_due = time.monotonic() + MARK_DELAY_SECONDS
            self._unmarked += [uuid.UUID(message.event_id) for message in batch]
            total += len(batch)
        if self._unmarked and (mark_now or time.monotonic() >= self._mark_due):
            await self._mark()
        return total

    async def _mark(self) -> None:
        ids = list(self._unmarked)
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None
            await raw.driver_connection.execute(_MARK.sql, _MARK.params({"ids": ids}))
        del self._unmarked[: len(ids)]

    async def _sleep(self, seconds: float) -> None:
        # Wakes early on a commit or stop(); asyncio.timeout, unlike wait_for on 3.11,
        # never swallows a cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()

    async def drain(self, grace: timedelta | None = None) -> int:
        """Publish until the outbox is empty (of rows older than `grace`, when given);
        returns how many rows were published."""
        total = await self.publish_handed(mark_now=True)
        while True:
            published = await self.publish_batch(grace)
            total += published
            if published < self._batch_size:
                return total

    async def publish_batch(self, grace: timedelta | None = None) -> int:
        """Publish one batch in one transaction; the rows stay unpublished if it fails.

        One statement claims and marks the batch (UPDATE .. SET published_at RETURNING
        over unpublished rows locked with SKIP LOCKED); the mark commits only after
        Redis took the messages.
        """
        table = self._outbox
        unpublished: list[Any] = [table.c.published_at.is_(None)]
        if grace is not None:
            unpublished.append(table.c.created_at < func.now() - grace)
        claimed = (
            select(table.c.id)
            .where(*unpublished)
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
        if self._handed:  # rows handed over while this pass claimed them: sent already
            sent = {str(row.event_id) for row in rows}
            self._handed = [m for m in self._handed if m.event_id not in sent]
        return len(rows)


# The outbox of `sagakit.tables.messaging_tables`; event_id has a unique index.
_MARK = Query(
    text(
        "UPDATE outbox SET published_at = now()"
        " WHERE event_id = ANY(CAST(:ids AS uuid[])) AND published_at IS NULL"
    )
)


def _columns(table: Table) -> tuple[Any, ...]:
    return (table.c.id, table.c.event_type, table.c.event_id, table.c.body, table.c.headers)
