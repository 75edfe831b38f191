"""Delivery guarantees on real Redis and Postgres: ack after commit, dedupe, claim, dead-letter."""

import uuid

from redis.asyncio import Redis

from sagakit.events import Envelope, RejectedBooking
from sagakit.settings import Transport
from sagakit.testing import eventually, wire

GROUP = "booking"


def rejected(booking_id: uuid.UUID | None = None) -> Envelope:
    event = RejectedBooking(booking_id=booking_id or uuid.uuid4(), customer_id="c", reason="r")
    return Envelope.wrap(event, "manager", causation_id=None)


async def pending(redis: Redis, stream: str) -> int:
    summary = await redis.xpending(stream, GROUP)
    return int(summary["pending"])


async def test_a_handled_message_is_acked_after_commit(redis, start_runtime, seen) -> None:
    runtime = await start_runtime()
    envelope = rejected()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    await redis.xadd(stream, {"__data__": wire(envelope)})
    assert await eventually(lambda: _equals(seen(envelope.booking_id), 1))
    assert await eventually(lambda: _equals(pending(redis, stream), 0))


async def test_the_same_event_delivered_twice_is_handled_once(
    redis, start_runtime, seen, behaviour
) -> None:
    runtime = await start_runtime()
    envelope, sentinel = rejected(), rejected()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    for message in (envelope, envelope, sentinel):
        await redis.xadd(stream, {"__data__": wire(message)})
    assert await eventually(lambda: _equals(seen(sentinel.booking_id), 1))
    assert await seen(envelope.booking_id) == 1
    # The copy wrote nothing (the inbox insert found it, in whichever batch it came) and
    # was acked.
    assert len(behaviour.transactions) == 2
    assert await eventually(lambda: _equals(pending(redis, stream), 0))


async def test_a_failing_message_is_retried_then_dead_lettered(
    redis, start_runtime, behaviour
) -> None:
    runtime = await start_runtime()
    envelope = rejected()
    behaviour.poisoned.add(envelope.booking_id)
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    await redis.xadd(stream, {"__data__": wire(envelope)})
    assert await eventually(lambda: _size_at_least(runtime.dead_letters.size(), 1))
    [letter] = await runtime.dead_letters.list()
    assert letter.origin == stream
    assert letter.consumer == GROUP
    assert letter.deliveries == 3
    assert "poisoned" in letter.error
    assert letter.event_id == str(envelope.event_id)
    assert behaviour.calls["REJECTED_BOOKING_EVENT"] == 3
    assert await pending(redis, stream) == 0


async def test_a_malformed_message_is_dead_lettered_and_traffic_keeps_flowing(
    redis, start_runtime, seen
) -> None:
    runtime = await start_runtime()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    await redis.xadd(stream, {"garbage": "not an event"})
    good = rejected()
    await redis.xadd(stream, {"__data__": wire(good)})
    assert await eventually(lambda: _equals(seen(good.booking_id), 1))
    [letter] = await runtime.dead_letters.list()
    assert letter.error.startswith("malformed")
    assert letter.raw == {b"garbage": b"not an event"}


async def test_a_crashed_consumers_pending_message_is_claimed_and_handled(
    redis, start_runtime, seen
) -> None:
    envelope = rejected()
    probe = await start_runtime()
    stream = probe.bus.name("REJECTED_BOOKING_EVENT")
    await probe.stop()
    # A consumer of the group reads the message and dies before acking it.
    await redis.xadd(stream, {"__data__": wire(envelope)})
    await redis.xreadgroup(GROUP, "crashed-consumer", {stream: ">"}, count=1)
    assert await pending(redis, stream) == 1
    await start_runtime()
    assert await eventually(lambda: _equals(seen(envelope.booking_id), 1))
    assert await eventually(lambda: _equals(pending(redis, stream), 0))


async def test_a_redriven_dead_letter_is_handled_after_the_fix(
    redis, start_runtime, seen, behaviour
) -> None:
    runtime = await start_runtime()
    envelope = rejected()
    behaviour.poisoned.add(envelope.booking_id)
    await redis.xadd(runtime.bus.name("REJECTED_BOOKING_EVENT"), {"__data__": wire(envelope)})
    assert await eventually(lambda: _size_at_least(runtime.dead_letters.size(), 1))
    behaviour.poisoned.clear()  # the bug is fixed
    [letter] = await runtime.dead_letters.list()
    await runtime.dead_letters.redrive(letter.entry_id, runtime.authenticity)
    assert await eventually(lambda: _equals(seen(envelope.booking_id), 1))
    assert await runtime.dead_letters.size() == 0


async def test_events_committed_by_one_service_reach_the_consumer_over_streams(
    start_runtime, commit_created, seen
) -> None:
    runtime = await start_runtime()
    booking_id = await commit_created(runtime.relay.wake)
    assert await eventually(lambda: _equals(seen(booking_id), 1))


async def test_pubsub_carries_the_same_events(start_runtime, commit_created, seen) -> None:
    runtime = await start_runtime(Transport.PUBSUB)
    booking_id = await commit_created(runtime.relay.wake)
    assert await eventually(lambda: _equals(seen(booking_id), 1))


async def test_pubsub_dead_letters_after_in_process_retries(
    redis, start_runtime, behaviour
) -> None:
    runtime = await start_runtime(Transport.PUBSUB)
    envelope = rejected()
    behaviour.poisoned.add(envelope.booking_id)
    channel = runtime.bus.name("REJECTED_BOOKING_EVENT")
    assert await eventually(lambda: _size_at_least(_subscribers(redis, channel), 1))
    await redis.publish(channel, wire(envelope))
    assert await eventually(lambda: _size_at_least(runtime.dead_letters.size(), 1))
    [letter] = await runtime.dead_letters.list()
    assert letter.transport == "pubsub"
    assert letter.deliveries == 3
    assert behaviour.calls["REJECTED_BOOKING_EVENT"] == 3


async def _subscribers(redis: Redis, channel: str) -> int:
    counts = await redis.pubsub_numsub(channel)
    return int(counts[0][1])


async def _equals(value, expected) -> bool:
    return (await value) == expected


async def _size_at_least(value, minimum: int) -> bool:
    return (await value) >= minimum
