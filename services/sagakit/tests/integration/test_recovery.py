"""When Redis forgets: groups at the stream start, stopped subscribers restarted, reconcile.

Only keys under the test's own prefix are deleted here, on the shared Redis; the
tests that wipe or restart a whole Redis start a private one (tests/e2e/test_broker_loss.py).
"""

import uuid
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import update

from sagakit import groups, metrics
from sagakit.events import Envelope, RejectedBooking
from sagakit.reconcile import request_body
from sagakit.settings import Transport
from sagakit.testing import eventually, unique_prefix, wire

FAST_WATCH = {"consumer_watch_seconds": 0.1}


def rejected() -> Envelope:
    event = RejectedBooking(booking_id=uuid.uuid4(), customer_id="c", reason="r")
    return Envelope.wrap(event, "manager", causation_id=None)


async def is_(probe, expected) -> bool:
    return await probe == expected


async def test_a_new_group_on_an_existing_stream_reads_what_it_holds(redis: Redis) -> None:
    stream = f"{unique_prefix()}CREATED_BOOKING_EVENT"
    written = await redis.xadd(stream, {"__data__": b"written before the group existed"})

    assert await groups.create_groups(redis, [(stream, "late")]) == [(stream, "late")]
    assert await groups.create_groups(redis, [(stream, "late")]) == []  # exists: left as is

    [(_, entries)] = await redis.xreadgroup("late", "c1", {stream: ">"})
    assert [entry_id for entry_id, _ in entries] == [written]
    await redis.delete(stream)


async def test_a_group_lost_mid_run_is_recreated_and_nothing_is_skipped(
    redis: Redis, start_runtime, seen
) -> None:
    runtime = await start_runtime(**FAST_WATCH)
    stream = runtime.bus.name("REJECTED_BOOKING_EVENT")
    first = rejected()
    await redis.xadd(stream, {"__data__": wire(first)})
    assert await eventually(lambda: is_(seen(first.booking_id), 1))

    await redis.delete(stream)  # Redis forgot the stream and its group (NOGROUP)
    lost = rejected()  # a producer writes again before anyone recreated the group
    await redis.xadd(stream, {"__data__": wire(lost)})

    assert await eventually(lambda: is_(seen(lost.booking_id), 1))
    assert await eventually(lambda: is_(_consumers(runtime), "ok"))
    assert all(sub.running for sub in runtime.bus.subscribers)
    assert runtime.watchdog.restarts >= 1  # FastStream had stopped them on NOGROUP


async def test_not_ready_while_a_subscriber_is_stopped(start_runtime) -> None:
    runtime = await start_runtime(consumer_watch_seconds=3600)  # no watchdog round here
    assert (await runtime.check())["consumers"] == "ok"
    stopped = runtime.bus.subscribers[0]
    await stopped.stop()

    assert (await runtime.check())["consumers"].startswith("error: 1 of")
    assert await runtime.watchdog.round()  # restarted in process
    assert stopped.running
    assert (await runtime.check())["consumers"] == "ok"


async def test_a_reconcile_request_republishes_kept_rows_and_consumers_dedupe(
    engine, redis: Redis, start_runtime, commit_created, seen, outbox_table
) -> None:
    runtime = await start_runtime(reconcile_after_seconds=1, reconcile_interval_seconds=0)
    booking_id = await commit_created(runtime.relay.wake)
    stream = runtime.bus.name("CREATED_BOOKING_EVENT")
    assert await eventually(lambda: is_(seen(booking_id), 1))
    async with engine.begin() as conn:  # published long enough ago to be re-published
        older = outbox_table.c.published_at - timedelta(seconds=5)
        await conn.execute(
            update(outbox_table)
            .where(outbox_table.c.booking_id == booking_id)
            .values(published_at=older)
        )
    before = await redis.xlen(stream)

    await runtime.reconcile.request([booking_id], "manual")

    assert await eventually(lambda: is_(redis.xlen(stream), before + 1))  # sent again...
    assert await seen(booking_id) == 1  # ...and skipped by the consumer that had it


async def test_a_forged_reconcile_request_is_refused(start_runtime) -> None:
    runtime = await start_runtime(transport=Transport.PUBSUB)
    body = request_body([uuid.uuid4()], "manual")
    rejected_before = _count(metrics.RECONCILE_REQUESTS, "booking", "rejected")

    assert await runtime.reconcile.handle(body, {}) == 0  # unsigned
    forged = {"saga-signature": "booking-x:AAAA"}
    assert await runtime.reconcile.handle(body, forged) == 0

    assert _count(metrics.RECONCILE_REQUESTS, "booking", "rejected") == rejected_before + 2


async def _consumers(runtime) -> str:
    return (await runtime.check())["consumers"]


def _count(counter, *labels: str) -> float:
    return float(counter.labels(*labels)._value.get())
