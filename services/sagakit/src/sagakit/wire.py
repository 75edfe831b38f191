"""How a message lies in Redis: one `__data__` field holding readable JSON.

`{"data": "<envelope JSON>", "headers": {...}}`, so `redis-cli XRANGE` shows what was
published and FastStream's own parser reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faststream.redis.parser.binary import BinaryMessageFormatV1
from faststream.redis.parser.message import MessageFormat

if TYPE_CHECKING:
    from fast_depends.library.serializer import SerializerProto
    from faststream._internal.basic_types import SendableMessage
    from faststream._internal.parser import CodecProto

DATA_FIELD = b"__data__"


class JsonMessageFormat(MessageFormat):
    """`__data__` holds `{"data": "<envelope JSON>", "headers": {...}}`, readable with redis-cli."""

    @classmethod
    async def encode(
        cls,
        *,
        message: SendableMessage | Sequence[SendableMessage],
        reply_to: str | None,
        headers: dict[str, Any] | None,
        correlation_id: str,
        serializer: SerializerProto | None = None,
        codec: CodecProto | None = None,
    ) -> bytes:
        built = await cls.build(
            message=message,
            reply_to=reply_to,
            headers=headers,
            correlation_id=correlation_id,
            serializer=serializer,
            codec=codec,
        )
        return json.dumps({"data": built.data.decode(), "headers": built.headers}).encode()

    @classmethod
    def parse(cls, data: bytes) -> tuple[bytes, dict[str, Any]]:
        # FastStream's parser already understands this JSON shape (and raw fields).
        return BinaryMessageFormatV1.parse(data)
