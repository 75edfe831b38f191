"""The dead-letter stream: messages a consumer gave up on, with where they came from and why.

Each entry keeps the original message fields byte for byte under `raw.<field>`
next to metadata fields, so a redrive puts back exactly what was received.
Redriving re-adds the message to its origin stream (or republishes it on its
origin channel); every consumer group on that stream sees it again, and the
ones that already handled it skip it through their inbox.

A redrive first applies the consumers' own checks (sagakit.authenticity): the origin
must be the stream of the envelope's event type under the prefix, the producer its
owner, the owner's signature valid. Every service may add to the dead-letter stream,
and the operator who redrives may write every event stream: without the checks, a
record planted there would be published by the operator's hand, to any stream named
in its `origin`. Only the message (`__data__`) goes back, never other recorded fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sagakit.authenticity import Authenticity, unpack
from sagakit.events import MalformedEvent, parse_envelope

if TYPE_CHECKING:
    from redis.asyncio import Redis

RAW_PREFIX = b"raw."
DATA_FIELD = b"__data__"
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

    async def redrive(self, entry_id: str, authenticity: Authenticity) -> str:
        """Send the original message back where it came from and remove the entry.

        Raises KeyError for an unknown entry, `RedriveRefused` for a message the
        consumers would refuse (see the module's docstring).
        """
        letter = await self.get(entry_id)
        if letter is None:
            raise KeyError(entry_id)
        problem = redrive_problem(letter, authenticity)
        if problem is not None:
            raise RedriveRefused(problem)
        data = letter.raw[DATA_FIELD]
        if letter.transport == "pubsub":
            await self._redis.publish(letter.origin, data)
            new_id = ""
        else:
            added = await self._redis.xadd(letter.origin, {DATA_FIELD: data})
            new_id = added.decode() if isinstance(added, bytes) else str(added)
        await self._redis.xdel(self.stream, entry_id)
        return new_id

    async def delete(self, entry_id: str) -> bool:
        """Drop a dead letter for good."""
        return bool(await self._redis.xdel(self.stream, entry_id))


class RedriveRefused(ValueError):
    """A dead letter that must not go back; the message says why."""


def redrive_problem(letter: DeadLetter, authenticity: Authenticity) -> str | None:
    """Why `letter` must not be redriven (the consumers' own checks); None if it may."""
    if letter.transport not in ("streams", "pubsub"):
        return f"unknown transport {letter.transport!r}"
    data = letter.raw.get(DATA_FIELD)
    if data is None:
        return "the record holds no message (no __data__ field): delete it"
    body, headers = unpack(data)
    try:
        envelope = parse_envelope(body)
    except MalformedEvent as exc:
        return f"not an envelope ({exc}): the consumers would refuse it again; delete it"
    problem = authenticity.problem(letter.origin, envelope, body, headers)
    return None if problem is None else f"the consumers would refuse it: {problem}"


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
