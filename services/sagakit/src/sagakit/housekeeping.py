"""Redis housekeeping of a long-running deployment: old dead letters, consumers of the dead.

- Dead letters older than `dead_letter_retention_days` are trimmed (XTRIM MINID: a
  stream id starts with the milliseconds of its addition, so the cutoff time is an id).
- Every process of a service joins the consumer groups under its own name (host and
  pid); a process that died leaves its name behind for good. A name that owns no pending
  entry and has not asked for anything for `consumer_reap_idle_seconds` is removed from
  its group (XGROUP DELCONSUMER); never the process's own name, never one with entries
  pending (they would become unclaimable), streams transport only.

Each replica runs the same loop every `retention_interval_seconds`; both steps are
harmless when two replicas do them at once. docs/operations.md, "Housekeeping", says why
no step ever removes what dedup or a redelivery still needs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from sagakit import metrics

log = logging.getLogger(__name__)


async def trim_dead_letters(redis: Redis, stream: str, days: float) -> int:
    """Delete the dead letters added more than `days` ago (0: none); returns how many."""
    if days <= 0:
        return 0
    cutoff_ms = int((time.time() - days * 86_400) * 1000)
    trimmed: int = await redis.xtrim(stream, minid=f"{cutoff_ms}-0", approximate=False)
    return trimmed


async def reap_consumers(
    redis: Redis, groups: Sequence[tuple[str, str]], own: str, idle_seconds: float
) -> list[str]:
    """Remove the consumers idle for `idle_seconds` with nothing pending; returns them."""
    if idle_seconds <= 0:
        return []
    reaped: list[str] = []
    for stream, group in groups:
        try:
            consumers = await redis.xinfo_consumers(stream, group)
        except ResponseError as exc:  # no such stream or group (yet): nobody to reap
            if "no such key" in str(exc) or str(exc).startswith("NOGROUP"):
                continue
            raise
        for consumer in consumers:
            name = _text(consumer["name"])
            if name == own or consumer["pending"] or consumer["idle"] < idle_seconds * 1000:
                continue
            # Idle that long, it is not reading: it cannot take an entry between the
            # look and the removal (a process paused that long and resumed just then
            # could; docs/operations.md).
            lost = await redis.xgroup_delconsumer(stream, group, name)
            if lost:
                log.error("housekeeping: %s in %s/%s had %d pending", name, stream, group, lost)
            reaped.append(f"{stream}/{group}/{name}")
    return reaped


async def oldest_undone(redis: Redis, groups: Sequence[tuple[str, str]]) -> datetime | None:
    """When the oldest entry the groups may still deliver was added (None: there is none).

    That is the oldest pending entry (delivered, not acknowledged: it is claimed again)
    and, for a group behind its stream, its last delivered entry (what follows is still
    to come, a republished duplicate included). The inbox keeps every row since then, so
    a redelivery always finds the row that makes it a no-op, however long an outage was.
    """
    ids: list[str] = []
    for stream, group in groups:
        try:
            pending = await redis.xpending(stream, group)
            behind = [g for g in await redis.xinfo_groups(stream) if _text(g["name"]) == group]
        except ResponseError as exc:
            if "no such key" in str(exc) or str(exc).startswith("NOGROUP"):
                continue
            raise
        if pending["pending"]:
            ids.append(_text(pending["min"]))
        if behind and behind[0].get("lag") != 0:  # None: Redis cannot tell, assume behind
            ids.append(_text(behind[0]["last-delivered-id"]))
    millis = [int(entry.split("-")[0]) for entry in ids]
    return datetime.fromtimestamp(min(millis) / 1000, UTC) if millis else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def housekeep_forever(
    redis: Redis,
    dead_letters: str,
    groups: Sequence[tuple[str, str]],
    own: str,
    *,
    service: str,
    interval: float,
    dead_letter_days: float,
    reap_idle_seconds: float,
) -> None:
    """Trim and reap every `interval` seconds until cancelled; a failed round waits."""
    await asyncio.sleep(random.uniform(0, min(interval, 60.0)))  # replicas apart
    while True:
        try:
            trimmed = await trim_dead_letters(redis, dead_letters, dead_letter_days)
            reaped = await reap_consumers(redis, groups, own, reap_idle_seconds)
        except Exception as exc:  # Redis is away: the next round tries again
            log.warning("housekeeping failed: %r", exc)
        else:
            metrics.RETENTION_DELETED.labels(service, "dead_letters").inc(trimmed)
            metrics.RETENTION_DELETED.labels(service, "consumers").inc(len(reaped))
            if trimmed or reaped:
                log.info("housekeeping: %d dead letters trimmed, reaped %s", trimmed, reaped)
        await asyncio.sleep(interval)
