"""Consumer groups of the streams transport, at start and at shutdown.

At start the groups are created before anything is consumed, so events published
while a service cannot consume yet (its schema is being migrated) wait for it.
At shutdown, entries read but not started are handed back to the group.

A group is created at `0`, the start of the stream, not at `$` (its end): a group that
is new on a stream that already holds entries reads them. That is the case whenever
the entries were written before the group existed: a producer that started before its
consumer ever did, or a Redis that came back empty (a restart without persistence, a
failover to a lagging replica) where a producer wrote again before the consumer
recreated its group (sagakit.watchdog). Created at `$`, the group would skip them and
their sagas would stop for good. Reading them again is safe: consumers dedupe by
`event_id` in their inbox. And bounded: every stream is capped at STREAM_MAXLEN entries.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import ResponseError


async def create_groups(redis: Redis, groups: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Create each (stream, group) at the stream's start (and the stream) unless it exists.

    Returns the groups it created (those that did not exist).
    """
    created: list[tuple[str, str]] = []
    for stream, group in groups:
        try:
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
            created.append((stream, group))
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
    return created


async def hand_back(redis: Redis, stream: str, group: str, consumer: str, idle_ms: int) -> int:
    """Make what is pending on `consumer` claimable by the group at once; returns how many.

    FastStream reads a batch and hands its entries to the handler one by one; once
    stopped it skips the rest, which stay pending on this consumer. Their idle time is
    set to `idle_ms` (the claim threshold), so another replica, or this service started
    again, claims them at its next reclaim poll instead of after `idle_ms`. JUSTID keeps
    their delivery counts as they are.
    """
    entries = await redis.xpending_range(
        stream, group, min="-", max="+", count=10_000, consumername=consumer
    )
    ids: list[bytes | str | int | memoryview[int]] = [entry["message_id"] for entry in entries]
    if ids:
        await redis.xclaim(stream, group, consumer, 0, ids, idle=idle_ms, justid=True)
    return len(ids)
