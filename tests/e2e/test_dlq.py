"""`sagactl dlq redrive` as the operator's Redis user: what the consumers would refuse stays.

The dead letters here are written by the test (as a consumer, or an intruder, would write
them); `sagactl` runs with the stack's operator settings: its own Redis user, the
prefix, and every producer's public key.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sys
from decimal import Decimal

from sagakit.deadletter import DeadLetterQueue, Failure
from sagakit.events import EventType, parse_envelope
from sagakit.wire import DATA_FIELD

OPERATOR_ONLY = ("REDIS_URL", "EVENT_PREFIX", "EVENT_VERIFY_KEYS", "SAGA_OPERATOR_ENV")


def operator_env(live) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_ONLY}
    return {**env, **live.security.operator_env(), "COLUMNS": "250"}


async def sagactl(*args: str, env: dict[str, str], answer: bytes | None = None) -> tuple[int, str]:
    """Run sagactl; with `answer`, on a terminal (a pty) that types it."""
    terminal = pty.openpty() if answer is not None else None
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sagactl",
        *args,
        env=env,
        stdin=terminal[1] if terminal else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    if terminal is not None and answer is not None:
        os.close(terminal[1])
        os.write(terminal[0], answer)
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    if terminal is not None:
        os.close(terminal[0])
    return int(process.returncode or 0), output.decode()


async def dead_letter(live, origin: str, data: bytes, consumer: str = "manager") -> str:
    """A dead-letter record as a consumer writes it (or as anyone who may XADD there could)."""
    queue = DeadLetterQueue(live.redis, live.prefix + "saga.dead-letters")
    body = json.loads(data)["data"]
    envelope = parse_envelope(body)
    return await queue.add(
        Failure(
            origin=origin,
            origin_id="0-1",
            transport="streams",
            consumer=consumer,
            error="RuntimeError('the handler failed')",
            deliveries=5,
            raw={DATA_FIELD: data},
            event_type=envelope.event_type,
            event_id=str(envelope.event_id),
        )
    )


async def a_real_message(live) -> tuple[str, bytes]:
    """The CREATED_BOOKING_EVENT booking really published for a new booking."""
    customer = await live.customer(Decimal("500.00"))
    booking_id = await live.book(customer)
    await live.billed(booking_id)
    stream = live.stream(EventType.CREATED_BOOKING_EVENT)
    [data] = [
        fields[DATA_FIELD]
        for _, fields in await live.redis.xrange(stream)
        if booking_id.encode() in fields[DATA_FIELD]
    ]
    return stream, data


def forged(data: bytes) -> bytes:
    """The real message with a cheaper amount, under the original signature."""
    message = json.loads(data)
    message["data"] = message["data"].replace('"amount":"120.00"', '"amount":"1.20"')
    assert message["data"] not in data.decode()
    return json.dumps(message).encode()


async def in_queue(live, entry_id: str) -> bool:
    queue = DeadLetterQueue(live.redis, live.prefix + "saga.dead-letters")
    return await queue.get(entry_id) is not None


async def test_a_signed_dead_letter_goes_back_to_its_stream(streams) -> None:
    stream, data = await a_real_message(streams)
    entry = await dead_letter(streams, stream, data)
    length = await streams.redis.xlen(stream)
    code, output = await sagactl("dlq", "redrive", entry, env=operator_env(streams))
    assert code == 0, output
    assert f"redriven {entry} -> " in output
    assert await streams.redis.xlen(stream) == length + 1
    [(_, fields)] = await streams.redis.xrevrange(stream, count=1)
    assert fields == {DATA_FIELD: data}  # the message, byte for byte, and nothing else
    assert not await in_queue(streams, entry)


async def test_a_forged_dead_letter_is_not_redriven(streams) -> None:
    stream, data = await a_real_message(streams)
    entry = await dead_letter(streams, stream, forged(data))
    length = await streams.redis.xlen(stream)
    code, output = await sagactl("dlq", "redrive", entry, env=operator_env(streams))
    assert code == 1
    assert f"refused {entry}: the consumers would refuse it: signature by booking's key" in output
    assert await streams.redis.xlen(stream) == length
    assert await in_queue(streams, entry)


async def test_a_dead_letter_naming_a_foreign_stream_is_not_redriven(streams) -> None:
    _, data = await a_real_message(streams)
    foreign = streams.prefix + "not-an-event-stream"
    entry = await dead_letter(streams, foreign, data)
    code, output = await sagactl("dlq", "redrive", entry, env=operator_env(streams))
    assert code == 1
    assert "it travels only on" in output
    assert await streams.redis.exists(foreign) == 0
    assert await in_queue(streams, entry)


async def test_redrive_all_shows_the_plan_and_asks_first(streams) -> None:
    stream, data = await a_real_message(streams)
    good = await dead_letter(streams, stream, data)
    bad = await dead_letter(streams, stream, forged(data))
    env = operator_env(streams)

    code, output = await sagactl("dlq", "redrive", "--all", env=env)  # no terminal, no --yes
    assert code == 2 and "only with --yes" in output
    assert good in output and bad in output and "signature by booking's key" in output
    code, output = await sagactl("dlq", "redrive", "--all", env=env, answer=b"n\n")
    assert code == 1 and "Redrive these" in output
    assert await in_queue(streams, good) and await in_queue(streams, bad)

    code, output = await sagactl("dlq", "redrive", "--all", env=env, answer=b"y\n")
    assert code == 0, output
    assert f"redriven {good}" in output and f"redriven {bad}" not in output
    assert not await in_queue(streams, good) and await in_queue(streams, bad)

    again = await dead_letter(streams, stream, data)
    code, output = await sagactl("dlq", "redrive", "--all", "--yes", env=env)
    assert code == 0 and f"redriven {again}" in output
