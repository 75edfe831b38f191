"""Reading `__data__`: our own JSON decode of the wrapper reads what FastStream's parser reads."""

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from faststream.redis.parser.binary import BinaryMessageFormatV1

from sagakit.events import CreatedBooking, Envelope
from sagakit.wire import JsonMessageFormat, frame, undecoded

ENVELOPE = Envelope.wrap(
    CreatedBooking(booking_id=uuid.uuid4(), customer_id="c", item="i", amount=Decimal("1.00")),
    "booking",
    None,
).model_dump_json()
HEADERS = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "saga-signature": "k:s"}


def binary() -> bytes:
    return asyncio.run(
        BinaryMessageFormatV1.encode(
            message=ENVELOPE.encode(), reply_to=None, headers=HEADERS, correlation_id="x"
        )
    )


CASES: dict[str, Any] = {
    "published": json.dumps({"data": ENVELOPE, "headers": HEADERS}).encode(),
    "no headers": json.dumps({"data": ENVELOPE}).encode(),
    "escaped unicode": json.dumps({"data": '{"a": "\u00e9\u4e2d"}', "headers": {}}).encode(),
    "data not a string": json.dumps({"data": {"a": 1}, "headers": {}}).encode(),
    "an envelope without the wrapper": ENVELOPE.encode(),
    "a list": b"[1, 2]",
    "not json": b"not json at all",
    "empty": b"",
    "invalid utf-8": b'{"data": "\xff", "headers": {}}',
    "lone surrogate": b'{"data": "\\ud800", "headers": {}}',
    "binary format": binary(),
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_the_wrapper_reads_as_fast_streams_parser_reads_it(data: bytes) -> None:
    assert JsonMessageFormat.parse(data) == BinaryMessageFormatV1.parse(data)


def test_a_published_message_gives_the_envelope_bytes_and_the_headers() -> None:
    assert JsonMessageFormat.parse(CASES["published"]) == (ENVELOPE.encode(), HEADERS)


async def test_subscribers_get_the_envelope_bytes_undecoded() -> None:
    class Message:
        body = ENVELOPE.encode()

    assert await undecoded(Message()) is Message.body  # type: ignore[arg-type]


async def test_a_frame_is_what_fast_streams_publisher_writes_and_reads_back() -> None:
    written = await JsonMessageFormat.encode(
        message=ENVELOPE.encode(), reply_to=None, headers=HEADERS, correlation_id="e-1"
    )
    framed = frame(ENVELOPE, {"correlation_id": "e-1", **HEADERS})

    assert framed == written
    assert BinaryMessageFormatV1.parse(framed) == (
        ENVELOPE.encode(),
        json.loads(written)["headers"],
    )
