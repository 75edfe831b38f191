"""Rows that only grow with traffic are deleted once they are old enough.

Each service's inbox (which events it handled, to skip a redelivery), its published
outbox rows (kept OUTBOX_RETENTION_HOURS for the reconciler, sagakit.reconcile) and the booking
service's saga journal (the timelines) gain rows with every saga and are never needed
forever. Every replica runs the same loop: every `retention_interval_seconds` it deletes
the rows older than their retention, in batches of `retention_batch_size`, each batch
its own short transaction. The batch is chosen with `FOR UPDATE SKIP LOCKED`, so two
replicas purging at once take different rows instead of waiting on each other, and a
batch never holds locks long enough to slow the consumers that insert new rows.
docs/security.md says why the inbox's default of 30 days is safe.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expiry:
    """Rows of `table` whose timestamp `column` is more than `days` old are deleted (0: never).

    A row whose `column` is NULL is never deleted (an outbox row not published yet).
    """

    table: Table
    column: str
    days: float  # fractions for retentions set in hours
    # Rows from this time on are kept whatever their age (None: no such time now). The
    # inbox's: the oldest event its consumer groups may still deliver (housekeeping).
    floor: Callable[[], Awaitable[datetime | None]] | None = None


async def purge(engine: AsyncEngine, expiry: Expiry, batch_size: int) -> int:
    """Delete the expired rows in batches of `batch_size`; returns how many were deleted."""
    if expiry.days <= 0:
        return 0
    table = expiry.table
    key = tuple(table.primary_key.columns)
    cutoff: ColumnElement[datetime] = func.now() - timedelta(days=expiry.days)
    if expiry.floor is not None and (floor := await expiry.floor()) is not None:
        cutoff = func.least(cutoff, floor)
    batch = (
        select(*key)
        .where(table.c[expiry.column] < cutoff)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    statement = delete(table).where(tuple_(*key).in_(batch))
    total = 0
    while True:
        async with engine.begin() as conn:
            deleted = (await conn.execute(statement)).rowcount
        total += deleted
        if deleted < batch_size:
            return total


async def purge_forever(
    engine: AsyncEngine,
    expiries: Sequence[Expiry],
    service: str,
    interval: float,
    batch_size: int,
) -> None:
    """Purge every `interval` seconds until cancelled; a failed round waits for the next."""
    # Replicas started together start their rounds apart.
    await asyncio.sleep(random.uniform(0, min(interval, 60.0)))
    while True:
        for expiry in expiries:
            try:
                deleted = await purge(engine, expiry, batch_size)
            except Exception as exc:  # the database is away: the next round tries again
                log.warning("retention: purging %s failed: %r", expiry.table.name, exc)
                continue
            metrics.RETENTION_DELETED.labels(service, expiry.table.name).inc(deleted)
            if deleted:
                log.info("retention: deleted %d rows of %s", deleted, expiry.table.name)
        await asyncio.sleep(interval)
