"""Batches on real Redis and Postgres: the entries of one read share one transaction and
one XACK; a poison entry is dead-lettered alone; a duplicate inside a batch is handled once."""

import asyncio
import contextlib
import uuid
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from sagakit.events import CreatedBooking, Envelope, EventType, RejectedBooking
from sagakit.settings import Transport
from sagakit.testing import eventually, wire

GROUP = "booking"


def rejected(booking_id: uuid.UUID | None = None) -> Envelope:
    event = RejectedBooking(booking_id=booking_id or uuid.uuid4(), customer_id="c", reason="r")
    return Envelope.wrap(event, "manager", causation_id=None)


async def add_at_once(redis: Redis, stream: str, envelopes: list[Envelope]) -> None:
    """XADD in one MULTI/EXEC: the entries appear together, so one read takes them all."""
    async with redis.pipeline(transaction=True) as pipe:
        for envelope in envelopes:
            pipe.xadd(stream, {"__data__": wire(envelope)})
        await pipe.execute()


async def pending(redis: Redis, stream: str) -> int:
    return int((await redis.xpending(stream, GROUP))["pending"])


async def all_seen(seen, envelopes: list[Envelope], times: int = 1) -> bool:
    return all([await seen(e.booking_id) == times for e in envelopes])


async def test_one_read_is_one_transaction(redis, start_runtime, seen, behaviour) -> None:
    runtime = await start_runtime()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    envelopes = [rejected() for _ in range(10)]
    await add_at_once(redis, stream, envelopes)
    assert await eventually(lambda: all_seen(seen, envelopes))
    assert len(behaviour.transactions) == 10
    assert len(set(behaviour.transactions)) == 1  # ten handlers, one transaction
    assert await eventually(lambda: _zero(pending(redis, stream)))


async def test_a_poison_entry_is_dead_lettered_alone(redis, start_runtime, seen, behaviour) -> None:
    runtime = await start_runtime()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    envelopes = [rejected() for _ in range(7)]
    poison = envelopes[3]
    behaviour.poisoned.add(poison.booking_id)
    await add_at_once(redis, stream, envelopes)
    healthy = [e for e in envelopes if e is not poison]
    assert await eventually(lambda: all_seen(seen, healthy))
    assert await eventually(lambda: _at_least(runtime.dead_letters.size(), 1))
    [letter] = await runtime.dead_letters.list()
    assert letter.event_id == str(poison.event_id)
    assert letter.deliveries == 3  # the retry policy ran for it alone
    assert await seen(poison.booking_id) == 0
    assert await all_seen(seen, healthy)  # committed once each, not again after the retries
    assert await eventually(lambda: _zero(pending(redis, stream)))


async def test_batches_of_two_streams_lock_their_bookings_in_one_order(
    redis, start_runtime, seen, behaviour
) -> None:
    # One batch per stream, the same two bookings in opposite orders. Each batch's first
    # write waits (its row locked) until the other batch has written too, or 1 s: taken
    # as delivered, each then needs the row the other holds, a deadlock Postgres breaks
    # by rolling one batch back. Taken by booking id, the second batch waits on the
    # first booking's lock instead, and both batches commit as they are. (No claim of
    # the entries left pending meanwhile: that would handle them a second way.)
    runtime = await start_runtime(claim_idle_ms=10_000)
    low, high = sorted([uuid.uuid4(), uuid.uuid4()])
    first_writes: set[int] = set()
    both = asyncio.Event()

    async def meet(event: object, txid: int) -> None:
        if txid not in first_writes:
            first_writes.add(txid)
            if len(first_writes) == 2:
                both.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(both.wait(), 1.0)

    behaviour.after_write = meet
    created = [_created(low), _created(high)]
    reversed_ = [rejected(high), rejected(low)]
    await asyncio.gather(
        add_at_once(redis, runtime.bus.name("CREATED_BOOKING_EVENT"), created),
        add_at_once(redis, runtime.bus.name("REJECTED_BOOKING_EVENT"), reversed_),
    )
    assert await eventually(lambda: all_seen(seen, created + reversed_, times=2))
    assert len(set(behaviour.transactions)) == 2  # two batches, none rolled back and retried


def _created(booking_id: uuid.UUID) -> Envelope:
    event = CreatedBooking(booking_id=booking_id, customer_id="c", item="i", amount=Decimal("1"))
    return Envelope.wrap(event, "booking", causation_id=None)


async def test_a_duplicate_inside_a_batch_is_handled_once(
    redis, start_runtime, seen, behaviour
) -> None:
    runtime = await start_runtime()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    twice, other = rejected(), rejected()
    await add_at_once(redis, stream, [twice, other, twice])
    assert await eventually(lambda: all_seen(seen, [twice, other]))
    assert await eventually(lambda: _zero(pending(redis, stream)))  # all three acked
    # The batch's one inbox insert found the event once: the copy never reached a handler.
    assert behaviour.calls["REJECTED_BOOKING_EVENT"] == 2
    assert len(behaviour.transactions) == 2
    assert await seen(twice.booking_id) == 1


async def test_a_batch_skips_what_an_earlier_batch_handled(
    redis, start_runtime, seen, behaviour
) -> None:
    runtime = await start_runtime()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    handled = rejected()
    await add_at_once(redis, stream, [handled])
    assert await eventually(lambda: all_seen(seen, [handled]))
    fresh = [rejected() for _ in range(3)]
    await add_at_once(redis, stream, [fresh[0], handled, *fresh[1:]])  # redelivered
    assert await eventually(lambda: all_seen(seen, fresh))
    assert await eventually(lambda: _zero(pending(redis, stream)))
    assert behaviour.calls["REJECTED_BOOKING_EVENT"] == 4  # the redelivery never ran
    assert len(set(behaviour.transactions[1:])) == 1  # the three fresh ones: one batch
    assert await seen(handled.booking_id) == 1


async def test_a_malformed_entry_is_dead_lettered_and_the_rest_handled(
    redis, start_runtime, seen
) -> None:
    runtime = await start_runtime()
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    envelopes = [rejected() for _ in range(3)]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(stream, {"__data__": wire(envelopes[0])})
        pipe.xadd(stream, {"__data__": b'{"data": "not json", "headers": {}}'})
        for envelope in envelopes[1:]:
            pipe.xadd(stream, {"__data__": wire(envelope)})
        await pipe.execute()
    assert await eventually(lambda: all_seen(seen, envelopes))
    assert await eventually(lambda: _at_least(runtime.dead_letters.size(), 1))
    [letter] = await runtime.dead_letters.list()
    assert letter.error.startswith("malformed")
    assert letter.deliveries == 1  # never retried: it can never succeed
    assert await eventually(lambda: _zero(pending(redis, stream)))


async def _zero(value) -> bool:
    return await value == 0


async def _at_least(value, expected: int) -> bool:
    return await value >= expected


async def test_pubsub_handles_what_arrived_meanwhile_as_one_batch(
    redis, start_runtime, seen, behaviour
) -> None:
    runtime = await start_runtime(Transport.PUBSUB)
    channel = runtime.bus.name("REJECTED_BOOKING_EVENT")
    behaviour.hold = asyncio.Event()
    first, *rest = envelopes = [rejected() for _ in range(8)]
    await redis.publish(channel, wire(first))
    await asyncio.wait_for(behaviour.entered.wait(), 10)  # the first is in its handler
    for envelope in rest:
        await redis.publish(channel, wire(envelope))
    await asyncio.sleep(0.3)  # they arrive and queue
    behaviour.hold.set()
    assert await eventually(lambda: all_seen(seen, envelopes))
    alone, *together = behaviour.transactions
    assert len(together) == 7 and len(set(together)) == 1 and alone not in together


@pytest.mark.parametrize("transport", [Transport.STREAMS, Transport.PUBSUB])
async def test_background_events_arriving_during_the_linger_commit_as_one_batch(
    redis, start_runtime, seen, behaviour, transport
) -> None:
    background = frozenset({EventType.REJECTED_BOOKING_EVENT})
    runtime = await start_runtime(
        transport, background=background, background_linger_ms=400, claim_idle_ms=10_000
    )
    name = runtime.bus.name("REJECTED_BOOKING_EVENT")

    async def send(envelope: Envelope) -> None:
        if transport is Transport.STREAMS:
            await redis.xadd(name, {"__data__": wire(envelope)})
        else:
            assert await redis.publish(name, wire(envelope)) == 1

    first, *rest = envelopes = [rejected() for _ in range(5)]
    await send(first)  # handled at once: the reader pauses after a batch, not before
    assert await eventually(lambda: all_seen(seen, [first]))
    for envelope in rest:  # apart: without the pause, each would be a batch of its own
        await send(envelope)
        await asyncio.sleep(0.02)
    assert await eventually(lambda: all_seen(seen, envelopes))
    alone, *together = behaviour.transactions
    assert len(together) == 4 and len(set(together)) == 1 and alone not in together
