"""Gauges sampled in the background: outbox backlog and lag, consumer groups, dead letters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit import metrics

log = logging.getLogger(__name__)

Sampler = Callable[[AsyncEngine], Awaitable[None]]
"""A service's own gauges, sampled with the shared ones."""


async def sample_outbox(engine: AsyncEngine, outbox: Table, service: str) -> None:
    """Backlog size and the age of the oldest unpublished row (published rows are kept)."""
    age = func.extract("epoch", func.now() - func.min(outbox.c.created_at))
    query = select(func.count(), age).select_from(outbox).where(outbox.c.published_at.is_(None))
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one()
    metrics.OUTBOX_BACKLOG.labels(service).set(row[0])
    metrics.OUTBOX_LAG.labels(service).set(float(row[1] or 0))


async def sample_streams(redis: Redis, streams: Iterable[str], group: str) -> None:
    """Pending and unread messages of the service's consumer group on each stream."""
    for stream in streams:
        info = await _group_info(redis, stream, group)
        if info is None:
            continue
        metrics.CONSUMER_PENDING.labels(group, stream).set(int(info.get("pending") or 0))
        metrics.CONSUMER_LAG.labels(group, stream).set(int(info.get("lag") or 0))


async def _group_info(redis: Redis, stream: str, group: str) -> dict[str, Any] | None:
    for info in await redis.xinfo_groups(stream):
        name = info["name"]
        if (name.decode() if isinstance(name, bytes) else name) == group:
            return dict(info)
    return None


async def sample_forever(interval: float, probes: Iterable[Callable[[], Awaitable[None]]]) -> None:
    """Run every probe every `interval` seconds until cancelled; a failing probe is skipped."""
    probes = list(probes)
    while True:
        for probe in probes:
            try:
                await probe()
            except Exception as exc:  # a gauge must never take the service down
                log.debug("metrics probe failed: %r", exc)
        await asyncio.sleep(interval)
