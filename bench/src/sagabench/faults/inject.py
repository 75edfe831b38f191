"""Deliveries injected on purpose: copies of real events, and old events added again.

Streams: XADD of the very same fields as an entry already there (a duplicate), and of an
older entry after newer ones (out of order). Pub/Sub: the suite listens on every channel
and publishes some messages again at once, some a few seconds later. Consumers dedupe by
`event_id` and a late event meets a saga that moved on: nothing may happen twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

from redis.asyncio import Redis

from sagabench.faults.rig import Rig


async def copies(rig: Rig, seconds: float, rng: random.Random) -> int:
    """Inject for `seconds`; returns how many messages were added."""
    redis = Redis.from_url(rig.redis.url)
    try:
        if rig.transport == "streams":
            return await _streams(redis, rig.services.extra_env["EVENT_PREFIX"], seconds, rng)
        return await _pubsub(redis, rig.services.extra_env["EVENT_PREFIX"], seconds, rng)
    finally:
        await redis.aclose()


async def _streams(redis: Redis, prefix: str, seconds: float, rng: random.Random) -> int:
    added, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        async for raw in redis.scan_iter(match=f"{prefix}*", _type="stream"):
            name = raw.decode()
            if "dead-letters" in name:
                continue
            recent = await redis.xrevrange(name, count=20) or []
            oldest = await redis.xrange(name, count=50) or []
            picks = rng.sample(recent, min(2, len(recent))) + rng.sample(
                oldest, min(1, len(oldest))
            )
            for _, fields in picks:
                copy: dict[Any, Any] = dict(fields or {})
                await redis.xadd(name, copy)
                added += 1
        await asyncio.sleep(0.5)
    return added


async def _pubsub(redis: Redis, prefix: str, seconds: float, rng: random.Random) -> int:
    added, later = 0, []
    listener = redis.pubsub()
    await listener.psubscribe(f"{prefix}*")
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is None or "dead-letters" in message["channel"].decode():
                continue
            roll = rng.random()
            if roll < 0.3:  # again, at once
                await redis.publish(message["channel"], message["data"])
                added += 1
            elif roll < 0.5:  # again, after newer ones
                later.append(asyncio.create_task(_later(redis, message, rng.uniform(1, 3))))
                added += 1
    finally:
        await listener.aclose()  # type: ignore[no-untyped-call]
    await asyncio.gather(*later)
    return added


async def _later(redis: Redis, message: dict[str, bytes], delay: float) -> None:
    await asyncio.sleep(delay)
    with contextlib.suppress(ConnectionError):
        await redis.publish(message["channel"], message["data"])
