"""Stream entries as the transport hands them to the consumer (sagakit.transport)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faststream.redis.annotations import RedisStreamMessage

from sagakit.delivery import Delivery
from sagakit.wire import DATA_FIELD, JsonMessageFormat

if TYPE_CHECKING:
    from redis.asyncio import Redis


class DeferredAck:
    """One entry of a read taken one by one: its ack is collected, and sent with the next
    read (sagakit.reader); its delivery count is read alone, when it failed."""

    def __init__(self, redis: Redis, stream: str, group: str, message_id: str) -> None:
        self._redis, self._stream, self._group, self._id = redis, stream, group, message_id
        self.acked: list[str] = []

    async def ack(self) -> None:
        self.acked = [self._id]

    async def get_delivery_count(self) -> int:
        pending = await self._redis.xpending_range(
            self._stream, self._group, min=self._id, max=self._id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1


def entry_delivery(stream: str, message_id: bytes, fields: dict[bytes, bytes]) -> Delivery:
    """One entry of a batch read, decoded from its `__data__` field."""
    body, headers = JsonMessageFormat.parse(fields.get(DATA_FIELD, b""))
    return Delivery(stream, message_id.decode(), body, fields, headers)


def stream_delivery(message: RedisStreamMessage) -> Delivery:
    """A message read alone (the claim subscriber) as a delivery."""
    raw = message.raw_message
    message_id = raw["message_ids"][0].decode()
    return Delivery(raw["channel"], message_id, message.body, raw["data"], message.headers)
