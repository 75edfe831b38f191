"""Consumer groups of the streams transport, at start and at shutdown.

At start the groups are created before anything is consumed, so events published
while a service cannot consume yet (its schema is being migrated) wait for it.
At shutdown, entries read but not started are handed back to the group.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import ResponseError


async def create_groups(redis: Redis, groups: Iterable[tuple[str, str]]) -> None:
    """Create each (stream, group) at the stream's end (and the stream) unless it exists."""
    for stream, group in groups:
        try:
            await redis.xgroup_create(stream, group, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


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
