"""Forged, misrouted and altered messages on real Redis: dead-lettered with the reason and never
handled, over streams and Pub/Sub; a redrive refuses them; a key rotation accepts both keys."""

from __future__ import annotations

import json
import uuid

import pytest
from redis.asyncio import Redis

from sagakit.deadletter import RedriveRefused
from sagakit.events import Envelope, RejectedBooking
from sagakit.settings import Transport
from sagakit.signing import SIGNATURE_HEADER, new_signing_key
from sagakit.testing import eventually, run_keyring, wire


def rejected(producer: str = "manager") -> Envelope:
    event = RejectedBooking(booking_id=uuid.uuid4(), customer_id="c", reason="r")
    return Envelope.wrap(event, producer, causation_id=None)


async def send(redis: Redis, runtime, name: str, data: bytes) -> None:
    """Write a message onto a stream, or publish it once the channel has its subscriber."""
    if runtime.settings.event_transport is Transport.STREAMS:
        await redis.xadd(name, {"__data__": data})
        return

    async def subscribed() -> bool:
        return int((await redis.pubsub_numsub(name))[0][1]) >= 1

    assert await eventually(subscribed)
    await redis.publish(name, data)


async def dead_letter_of(runtime, envelope: Envelope):
    async def arrived() -> bool:
        return any(d.event_id == str(envelope.event_id) for d in await runtime.dead_letters.list())

    assert await eventually(arrived), "never dead-lettered"
    return next(
        d for d in await runtime.dead_letters.list() if d.event_id == str(envelope.event_id)
    )


def altered(envelope: Envelope) -> bytes:
    """The owner's signed message with its payload changed afterwards."""
    signed = json.loads(wire(envelope))
    signed["data"] = signed["data"].replace('"reason":"r"', '"reason":"changed"')
    return json.dumps(signed).encode()


CASES = {
    "unsigned": (lambda e: wire(e, signed=False), "rejected: unsigned"),
    "wrong producer": (lambda e: wire(e.model_copy(update={"producer": "payment"})), "may not"),
    "altered": (altered, "does not match the message"),
}


@pytest.mark.parametrize("transport", list(Transport))
@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_message_failing_the_checks_is_dead_lettered_with_the_reason_never_handled(
    redis, start_runtime, seen, behaviour, transport: Transport, case: str
) -> None:
    runtime = await start_runtime(transport)
    make, reason = CASES[case]
    envelope = rejected()
    data = make(envelope)
    await send(redis, runtime, runtime.bus.name("REJECTED_BOOKING_EVENT"), data)
    letter = await dead_letter_of(runtime, envelope)
    assert reason in letter.error
    assert letter.deliveries == 1  # never retried: it can never pass
    assert letter.raw == {b"__data__": data}  # kept byte for byte
    assert await seen(envelope.booking_id) == 0
    assert "REJECTED_BOOKING_EVENT" not in behaviour.calls
    with pytest.raises(RedriveRefused, match="the consumers would refuse it"):
        await runtime.dead_letters.redrive(letter.entry_id, runtime.authenticity)
    assert await runtime.dead_letters.get(letter.entry_id) is not None


async def test_an_event_on_another_events_stream_is_dead_lettered(
    redis, start_runtime, seen
) -> None:
    runtime = await start_runtime()
    envelope = rejected()
    stream = runtime.bus.name("CREATED_BOOKING_EVENT")  # a stream the service hears
    await redis.xadd(stream, {"__data__": wire(envelope)})
    letter = await dead_letter_of(runtime, envelope)
    assert "a REJECTED_BOOKING_EVENT arrived on" in letter.error
    assert await seen(envelope.booking_id) == 0


async def test_a_dead_letter_naming_a_foreign_stream_is_not_redriven(redis, start_runtime) -> None:
    runtime = await start_runtime()
    envelope = rejected()
    foreign = runtime.settings.event_prefix + "somebody-elses-stream"
    entry = await redis.xadd(
        runtime.dead_letters.stream,
        {"origin": foreign, "transport": "streams", "raw.__data__": wire(envelope)},
    )
    with pytest.raises(RedriveRefused, match="it travels only on"):
        await runtime.dead_letters.redrive(entry.decode(), runtime.authenticity)
    assert await redis.exists(foreign) == 0


async def test_a_key_rotation_accepts_both_keys_then_only_the_new_one(
    redis, start_runtime, seen
) -> None:
    old, new = run_keyring().keys["manager"], new_signing_key("manager-next")
    others = run_keyring().verify_keys()
    runtime = await start_runtime(event_verify_keys=f"{others},{new.verify_entry('manager')}")
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    for key in (old, new):
        envelope = rejected()
        data = json.loads(wire(envelope, signed=False))
        data["headers"][SIGNATURE_HEADER] = key.sign(data["data"].encode())
        await redis.xadd(stream, {"__data__": json.dumps(data)})
        assert await eventually(lambda e=envelope: _handled(seen, e))
    await runtime.stop()
    booking = run_keyring().verify_keys(["booking"])  # the other producer the service hears
    after = await start_runtime(event_verify_keys=f"{booking},{new.verify_entry('manager')}")
    envelope = rejected()
    await redis.xadd(stream, {"__data__": wire(envelope)})  # signed with the old key
    letter = await dead_letter_of(after, envelope)
    assert f"{old.kid!r}, which is not a key of manager" in letter.error


async def _handled(seen, envelope: Envelope) -> bool:
    return await seen(envelope.booking_id) == 1
