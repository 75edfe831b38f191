"""Deadlines: what a saga waits for does not wait forever.

A deadline is a row with a due time (`payments.expires_at`, `approvals.expires_at`):
durable, so it survives a restart, and one that fell while the service was down fires
on the first sweep after it starts. Each service names its deadlines in its
`ServiceSpec`; every replica runs the same loop, which every `deadline_sweep_seconds`
asks each deadline's sweep to fire what is due.

A sweep fires up to `limit` due deadlines in one unit of work: it selects the due rows
with `FOR UPDATE SKIP LOCKED`, changes the aggregates (which raise their events into the
outbox in the same transaction) and commits. Two replicas sweeping at once take
different rows, and a command that holds a row's lock (a payment being submitted)
decides it alone: the sweep skips the row and finds it settled next time. So a deadline
fires once. docs/reliability.md, "Deadlines", tells the whole story.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sagakit import metrics

log = logging.getLogger(__name__)

Sweep = Callable[[Any, datetime, int], Awaitable[int]]
"""`async def sweep(uow, now, limit) -> int`: fire up to `limit` deadlines due at `now`."""

MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class Deadline:
    """One kind of deadline of a service: its name (a metric label) and its sweep."""

    name: str
    sweep: Sweep


async def sweep_once(
    deadline: Deadline, new_uow: Callable[[], Any], batch_size: int, service: str
) -> int:
    """Fire every deadline of this kind due now, `batch_size` per transaction; how many."""
    total = 0
    while True:
        fired = await deadline.sweep(new_uow(), datetime.now(UTC), batch_size)
        total += fired
        metrics.DEADLINES_FIRED.labels(service, deadline.name).inc(fired)
        if fired < batch_size:
            return total


async def sweep_forever(
    deadlines: Sequence[Deadline],
    new_uow: Callable[[], Any],
    service: str,
    interval: float,
    batch_size: int,
) -> None:
    """Sweep every `interval` seconds until cancelled; errors back off and retry."""
    # Replicas started together sweep apart; the first sweep comes soon after the start,
    # so what fell due while the service was down fires at once.
    await asyncio.sleep(random.uniform(0, min(interval, 1.0)))
    backoff = interval
    while True:
        try:
            for deadline in deadlines:
                fired = await sweep_once(deadline, new_uow, batch_size, service)
                if fired:
                    log.info("deadlines: %d %s fired", fired, deadline.name)
        except Exception as exc:  # the database is away: back off, then try again
            log.warning("deadlines: sweep failed (%r); retrying in %.1fs", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max(MAX_BACKOFF_SECONDS, interval))
            continue
        backoff = interval
        await asyncio.sleep(interval)
