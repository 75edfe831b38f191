"""How a message lies in Redis: one `__data__` field holding readable JSON.

`{"data": "<envelope JSON>", "headers": {...}}`, so `redis-cli XRANGE` shows what was
published and FastStream's own parser reads it back.

Reading one costs one JSON decode of this wrapper (pydantic-core's parser) and, in
sagakit.delivery, one of the envelope: FastStream's own decoding of the envelope into
a dict, which nothing uses, is skipped (`undecoded`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from faststream.redis.parser.binary import BinaryMessageFormatV1
from faststream.redis.parser.message import MessageFormat
from pydantic_core import from_json

if TYPE_CHECKING:
    from fast_depends.library.serializer import SerializerProto
    from faststream._internal.basic_types import SendableMessage
    from faststream._internal.parser import CodecProto
    from faststream.message import StreamMessage

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
        return frame(built.data.decode(), built.headers)

    @classmethod
    def parse(cls, data: bytes) -> tuple[bytes, dict[str, Any]]:
        """(envelope bytes, headers); anything but this JSON shape as FastStream reads it."""
        if not data.startswith(BinaryMessageFormatV1.IDENTITY_HEADER):
            with suppress(Exception):  # not this shape: FastStream's parser decides below
                wrapper = from_json(data)
                return wrapper["data"].encode(), wrapper.get("headers", {})
        # Binary, raw fields or not JSON: FastStream's parser, as before (and rarely).
        return BinaryMessageFormatV1.parse(data)


def frame(body: str, headers: Mapping[str, Any]) -> bytes:
    """The `__data__` value of one message: what `JsonMessageFormat.encode` writes, built
    without FastStream's publisher (sagakit.transport publishes with plain XADD/PUBLISH)."""
    return json.dumps({"data": body, "headers": headers}).encode()


async def undecoded(message: StreamMessage[Any]) -> bytes:
    """A subscriber's decoder: the envelope's bytes as they are (sagakit.delivery decodes
    them once). FastStream's default would json-decode them into a dict nobody reads."""
    body: bytes = message.body
    return body
