"""Stopping on real Redis and Postgres: the batch in hand finishes and is acked, and the
outbox is drained one last time."""

import asyncio
import uuid

from redis.asyncio import Redis

from sagakit.events import Envelope, RejectedBooking
from sagakit.testing import eventually, read_envelopes
from sagakit.testing import wire as signed

GROUP = "booking"
CLAIM_IDLE_MS = 5_000  # long enough that nothing is reclaimed while the test holds a handler


def wire(booking_id: uuid.UUID) -> bytes:
    event = RejectedBooking(booking_id=booking_id, customer_id="c", reason="r")
    envelope = Envelope.wrap(event, "manager", causation_id=None)
    return signed(envelope)


async def test_stopping_finishes_the_batch_in_hand(
    redis: Redis, start_runtime, seen, behaviour
) -> None:
    behaviour.hold = asyncio.Event()
    runtime = await start_runtime(claim_idle_ms=CLAIM_IDLE_MS)
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    bookings = [uuid.uuid4() for _ in range(5)]
    async with redis.pipeline(transaction=True) as pipe:  # one read takes all five
        for booking_id in bookings:
            pipe.xadd(stream, {"__data__": wire(booking_id)})
        await pipe.execute()
    await asyncio.wait_for(behaviour.entered.wait(), 10)  # the first is in the handler
    stopping = asyncio.create_task(runtime.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # it waits for the message in hand
    behaviour.hold.set()
    await asyncio.wait_for(stopping, 10)

    # The five were one batch: one transaction, committed, and acked in one XACK.
    for booking_id in bookings:
        assert await seen(booking_id) == 1
    assert await redis.xpending_range(stream, GROUP, min="-", max="+", count=10) == []

    behaviour.hold = None
    await start_runtime(claim_idle_ms=CLAIM_IDLE_MS)  # e.g. the new pod of a rolling update
    await asyncio.sleep(0.5)
    for booking_id in bookings:  # nothing handled twice
        assert await seen(booking_id) == 1


async def test_stopping_publishes_what_was_committed_since_the_relays_last_pass(
    redis: Redis, start_runtime, commit_created
) -> None:
    earlier = await commit_created()  # not woken: the relay's first pass publishes it
    runtime = await start_runtime(relay_poll_seconds=60)
    stream = runtime.bus.name("CREATED_BOOKING_EVENT")
    assert await eventually(lambda: _published(redis, stream, earlier))
    # The relay now sleeps for 60 s: nothing wakes it for this one.
    late = await commit_created()
    assert not await _published(redis, stream, late)
    await runtime.stop()
    envelopes = await read_envelopes(redis, stream)
    assert [e.booking_id for e in envelopes].count(late) == 1


async def _published(redis: Redis, stream: str, booking_id: uuid.UUID) -> bool:
    return any(e.booking_id == booking_id for e in await read_envelopes(redis, stream))


async def _pending_is_zero(redis: Redis, stream: str) -> bool:
    return int((await redis.xpending(stream, GROUP))["pending"]) == 0


async def _equals(value, expected) -> bool:
    return (await value) == expected
