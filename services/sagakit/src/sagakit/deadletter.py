"""The dead-letter stream: messages a consumer gave up on, with where they came from and why.

Each entry keeps the original message fields byte for byte under `raw.<field>`
next to metadata fields, so a redrive puts back exactly what was received.
Redriving re-adds the message to its origin stream (or republishes it on its
origin channel); every consumer group on that stream sees it again, and the
ones that already handled it skip it through their inbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from redis.asyncio import Redis

RAW_PREFIX = b"raw."
Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message."""

    entry_id: str
    origin: str
    origin_id: str
    transport: str
    consumer: str
    error: str
    deliveries: int
    failed_at: str
    event_type: str
    event_id: str
    raw: dict[bytes, bytes]

    def raw_text(self) -> dict[str, str]:
        """The original fields decoded for display."""
        return {k.decode(): v.decode("utf-8", "replace") for k, v in self.raw.items()}


@dataclass(frozen=True)
class Failure:
    """What a consumer knows about a message it gives up on."""

    origin: str
    origin_id: str
    transport: str
    consumer: str
    error: str
    deliveries: int
    raw: Mapping[bytes, bytes]
    event_type: str = ""
    event_id: str = ""


class DeadLetterQueue:
    """Add, list, show, redrive and delete dead letters in one Redis stream."""

    def __init__(self, redis: Redis, stream: str) -> None:
        self._redis = redis
        self.stream = stream

    async def add(self, failure: Failure) -> str:
        """Store a failed message; returns the dead-letter entry id."""
        fields: dict[Any, Any] = {
            "origin": failure.origin,
            "origin_id": failure.origin_id,
            "transport": failure.transport,
            "consumer": failure.consumer,
            "error": failure.error[:2000],
            "deliveries": failure.deliveries,
            "failed_at": datetime.now(UTC).isoformat(),
            "event_type": failure.event_type,
            "event_id": failure.event_id,
        }
        for key, value in failure.raw.items():
            fields[RAW_PREFIX + key] = value
        entry_id = await self._redis.xadd(self.stream, fields)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def size(self) -> int:
        """How many dead letters wait."""
        return int(await self._redis.xlen(self.stream))

    async def list(self, count: int = 100) -> list[DeadLetter]:
        """The oldest `count` dead letters."""
        entries = cast(list[Entry], await self._redis.xrange(self.stream, count=count))
        return [_decode(entry_id, fields) for entry_id, fields in entries]

    async def get(self, entry_id: str) -> DeadLetter | None:
        """One dead letter, or None."""
        entries = cast(
            list[Entry], await self._redis.xrange(self.stream, min=entry_id, max=entry_id, count=1)
        )
        return _decode(*entries[0]) if entries else None

    async def redrive(self, entry_id: str) -> str:
        """Send the original message back where it came from and remove the entry."""
        letter = await self.get(entry_id)
        if letter is None:
            raise KeyError(entry_id)
        if letter.transport == "pubsub":
            await self._redis.publish(letter.origin, letter.raw.get(b"__data__", b""))
            new_id = ""
        else:
            added = await self._redis.xadd(letter.origin, cast(dict[Any, Any], letter.raw))
            new_id = added.decode() if isinstance(added, bytes) else str(added)
        await self._redis.xdel(self.stream, entry_id)
        return new_id

    async def delete(self, entry_id: str) -> bool:
        """Drop a dead letter for good."""
        return bool(await self._redis.xdel(self.stream, entry_id))


def _decode(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> DeadLetter:
    def text(key: str) -> str:
        return fields.get(key.encode(), b"").decode("utf-8", "replace")

    raw = {k[len(RAW_PREFIX) :]: v for k, v in fields.items() if k.startswith(RAW_PREFIX)}
    return DeadLetter(
        entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        origin=text("origin"),
        origin_id=text("origin_id"),
        transport=text("transport"),
        consumer=text("consumer"),
        error=text("error"),
        deliveries=int(text("deliveries") or 0),
        failed_at=text("failed_at"),
        event_type=text("event_type"),
        event_id=text("event_id"),
        raw=raw,
    )
