"""The event streams at their longest fit in the rendered Redis maxmemory, with headroom.

Nothing here is a constant: the bytes one stream entry takes are measured on the real
Redis, with the largest envelopes the APIs accept (the longest item and reason, in the
characters that take the most bytes on the wire) published the way the services publish
them (sagakit's EventBus: JsonMessageFormat, trace headers, XADD MAXLEN ~), and a dead
letter as DeadLetterQueue stores it. Then, for each values file that runs the chart's own
Redis, every event stream and the dead-letter stream, each (STREAM_MAXLEN + one stream
node) long, must fit in STREAMS_SHARE of the maxmemory the redis chart renders.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from annotated_types import MaxLen
from chartkit import SERVICES, own_servers, quantity_bytes, values_of
from redis.asyncio import Redis

from booking.entrypoints.schemas import BookingCreate
from invoice.domain.model import invoice_number
from manager.entrypoints.schemas import ApprovalReject
from payment.domain.model import TIMED_OUT as PAYMENT_TIMED_OUT
from sagakit.api import CUSTOMER_ID_RULES
from sagakit.authenticity import Authenticity
from sagakit.deadletter import DeadLetterQueue, Failure
from sagakit.events import EVENT_MODELS, Envelope, EventType
from sagakit.outbox import OutboxMessage
from sagakit.settings import ServiceSettings
from sagakit.testing import REDIS_URL, START_HINT, run_keyring
from sagakit.tracing import continued, outgoing_headers
from sagakit.transport import EventBus

# The rest of maxmemory is for what the streams do not show: consumer groups' pending
# entries, the client buffers Redis also counts, and the other keys.
STREAMS_SHARE = 0.8
# Approximate trimming (MAXLEN ~) drops whole stream nodes only, so a stream may keep up
# to one node more than MAXLEN: Redis' default stream-node-max-entries, unless redis.conf
# sets another.
DEFAULT_NODE_ENTRIES = 100
MEASURED_MAXLEN = 1000  # the smallest STREAM_MAXLEN the settings allow
# The free text the APIs accept that is largest on the wire: an astral-plane character
# takes 4 bytes in the envelope's JSON and 12 once the transport's JSON escapes it
# (\ud83d\ude00); an ASCII letter takes 1. Customers choose the item's characters.
WIDEST_CHARACTER = "\U0001f600"


def max_length(model: Any, field: str) -> int:
    """The max_length an API body declares for a field."""
    return next(m.max_length for m in model.model_fields[field].metadata if isinstance(m, MaxLen))


def largest_message(event_type: EventType) -> OutboxMessage:
    """The largest event of a type the APIs accept, as the outbox hands it to the relay."""
    booking_id = uuid.uuid4()
    largest_amount = Decimal("9" * 10 + ".99")  # Money: 12 digits, 2 of them decimals
    fields: dict[str, Any] = {
        "booking_id": booking_id,
        "customer_id": "c" * CUSTOMER_ID_RULES["max_length"],
        "item": WIDEST_CHARACTER * max_length(BookingCreate, "item"),
        "reason": WIDEST_CHARACTER * max_length(ApprovalReject, "reason"),
        "amount": largest_amount,
        "available_credit": largest_amount,
        "total": largest_amount,
        "bill_id": uuid.uuid4(),
        "invoice_id": uuid.uuid4(),
        "invoice_number": invoice_number(999_999, 9999),
        "paid_at": datetime.now(UTC),
        "expired_at": datetime.now(UTC),
    }
    if event_type is EventType.PAYMENT_EXPIRED_EVENT:  # its reason is payment's, not an API's
        fields["reason"] = PAYMENT_TIMED_OUT
    model = EVENT_MODELS[event_type]
    event = model(**{name: value for name, value in fields.items() if name in model.model_fields})
    envelope = Envelope.wrap(event, producer="invoice", causation_id=uuid.uuid4())
    with continued({}, booking_id=str(booking_id)):  # as a handler: trace and baggage
        headers = outgoing_headers()
    body = envelope.model_dump_json()
    return OutboxMessage(event_type.value, str(envelope.event_id), body, headers)


async def size(redis: Redis, stream: str) -> tuple[int, int]:
    """(bytes, entries) of a stream: every node counted (SAMPLES 0), not an estimate."""
    return int(await redis.memory_usage(stream, samples=0)), int(await redis.xlen(stream))


async def fill(bus: EventBus, redis: Redis, event_type: EventType) -> tuple[int, int]:
    """Publish 3 x MEASURED_MAXLEN entries, signed as the relay signs them; (bytes, entries)
    of the trimmed stream."""
    keys = run_keyring().env("invoice")
    signed = Authenticity.from_settings("", keys["EVENT_SIGNING_KEY"], keys["EVENT_VERIFY_KEYS"])
    for _ in range(3 * MEASURED_MAXLEN // 100):
        await bus.publish(signed.sign([largest_message(event_type) for _ in range(100)]))
    return await size(redis, bus.name(event_type))


async def fill_dead_letters(bus: EventBus, redis: Redis) -> tuple[int, int]:
    """MEASURED_MAXLEN dead letters of the largest event, with the longest error kept."""
    queue = DeadLetterQueue(redis, bus.name("saga.dead-letters"))
    origin = bus.name(EventType.REJECTED_BOOKING_EVENT)
    (entry_id, raw), *_ = await redis.xrange(origin, count=1)
    for _ in range(MEASURED_MAXLEN):
        failure = Failure(
            origin=origin,
            origin_id=entry_id.decode(),
            transport="streams",
            consumer="saga-manager-7d9f8b6c5d-x2x4q",
            error="E" * 10_000,  # DeadLetterQueue keeps what it keeps of it
            deliveries=5,
            raw=raw,
            event_type=EventType.REJECTED_BOOKING_EVENT.value,
            event_id=str(uuid.uuid4()),
        )
        await queue.add(failure)
    return await size(redis, queue.stream)


@pytest.fixture(scope="module")
async def measured() -> AsyncIterator[dict[str, tuple[int, int]]]:
    """(bytes, entries) of each event stream and of the dead-letter stream, on the real Redis."""
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except Exception as exc:
        pytest.fail(f"Redis is not answering at {REDIS_URL}: {exc}. {START_HINT}", pytrace=False)
    prefix = f"capacity-{uuid.uuid4().hex[:8]}."
    settings = ServiceSettings(event_prefix=prefix, stream_maxlen=MEASURED_MAXLEN)
    bus = EventBus(settings, redis)
    bus.declare_publishers(list(EventType))
    await bus.broker.connect()
    try:
        found = {event_type.value: await fill(bus, redis, event_type) for event_type in EventType}
        found["dead letters"] = await fill_dead_letters(bus, redis)
        yield found
    finally:
        if keys := [key async for key in redis.scan_iter(f"{prefix}*")]:
            await redis.delete(*keys)
        await bus.broker.stop()
        await redis.aclose()


def redis_conf(render: Any) -> dict[str, str]:
    text = render.get("ConfigMap", "saga-redis")["data"]["redis.conf"]
    return dict(re.findall(r"^([a-z-]+) (.+)$", text, re.MULTILINE))


def stream_budget(render: Any, measured: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """(bytes the streams may reach, bytes they may use) for one render."""
    conf = redis_conf(render)
    maxlen = max(int(render.env(service)["STREAM_MAXLEN"]) for service in SERVICES)
    longest = maxlen + int(conf.get("stream-node-max-entries", DEFAULT_NODE_ENTRIES))
    need = sum(longest * size / entries for size, entries in measured.values())
    return int(need), int(quantity_bytes(conf["maxmemory"]) * STREAMS_SHARE)


def test_every_stream_and_the_dead_letters_were_measured(measured: dict[str, Any]) -> None:
    assert set(measured) == {*(t.value for t in EventType), "dead letters"}
    for name, (size, entries) in measured.items():
        assert entries >= MEASURED_MAXLEN and size > entries * 500, name


def test_approximate_trimming_keeps_at_most_one_node_more(measured: dict[str, Any]) -> None:
    for name, (_, entries) in measured.items():
        assert MEASURED_MAXLEN <= entries <= MEASURED_MAXLEN + DEFAULT_NODE_ENTRIES, name


@pytest.mark.parametrize("own_redis", own_servers("redis"))
def test_the_streams_fit_in_maxmemory_with_headroom(
    own_redis: str, rendered: dict[str, Any], measured: dict[str, tuple[int, int]]
) -> None:
    need, room = stream_budget(rendered[own_redis], measured)
    assert need <= room, f"{own_redis}: the streams may reach {need} bytes, {room} are theirs"


def test_a_stream_maxlen_too_long_for_redis_is_caught(
    render_values: Any, measured: dict[str, tuple[int, int]]
) -> None:
    values = values_of("kind")
    values["config"]["STREAM_MAXLEN"] = 100_000
    need, room = stream_budget(render_values(values), measured)
    assert need > room
