"""Long polling: waiters wake on a change of their booking, time out otherwise, leave nothing."""

import asyncio
import uuid

import pytest

from sagakit.changes import ChangeFeed
from sagakit.errors import NotFound, Overloaded


async def test_every_waiter_of_a_booking_wakes_on_its_change_and_no_other() -> None:
    feed = ChangeFeed()
    mine, other = uuid.uuid4(), uuid.uuid4()
    waiters = [asyncio.create_task(feed.wait(mine, 10)) for _ in range(3)]
    bystander = asyncio.create_task(feed.wait(other, 10))
    await asyncio.sleep(0)
    feed.changed({mine})
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    assert not bystander.done()
    feed.changed([other])
    await asyncio.wait_for(bystander, 1)
    assert feed._waiting == {}  # nothing left behind


async def test_a_wait_without_change_times_out_and_cleans_up() -> None:
    feed = ChangeFeed()
    await feed.wait(uuid.uuid4(), 0.01)
    assert feed._waiting == {}


async def test_until_reads_again_after_each_change_and_returns_when_ready() -> None:
    feed, booking_id = ChangeFeed(), uuid.uuid4()
    states = iter(["missing", "pending", "reserved"])
    reads = []

    async def read() -> str:
        state = next(states)
        reads.append(state)
        if state == "missing":
            raise NotFound("not yet")
        return state

    async def change_twice() -> None:
        for _ in range(2):
            await asyncio.sleep(0.01)
            feed.changed({booking_id})

    changer = asyncio.create_task(change_twice())
    assert await feed.until(booking_id, read, lambda s: s == "reserved", 10) == "reserved"
    await changer
    assert reads == ["missing", "pending", "reserved"]


async def test_until_raises_not_found_only_at_its_deadline() -> None:
    async def read() -> str:
        raise NotFound("never")

    with pytest.raises(NotFound):
        await ChangeFeed().until(uuid.uuid4(), read, lambda _: True, 0.05)


async def test_close_answers_every_waiting_request_with_what_there_is_now() -> None:
    feed, booking_id = ChangeFeed(), uuid.uuid4()
    reads = []

    async def read() -> str:
        reads.append("pending")
        return "pending"

    polls = [
        asyncio.create_task(feed.until(booking_id, read, lambda s: s == "reserved", 30))
        for _ in range(3)
    ]
    for _ in range(10):  # each poll reads once, then waits
        await asyncio.sleep(0)
    assert len(reads) == 3
    assert feed.close() == 3
    assert await asyncio.wait_for(asyncio.gather(*polls), 1) == ["pending"] * 3
    assert len(reads) == 6  # one more read each, after the close
    late = await asyncio.wait_for(feed.until(booking_id, read, lambda s: s == "reserved", 30), 1)
    assert late == "pending"  # a request after the close does not wait at all


class Found:
    def __init__(self, status: str) -> None:
        self.status = status


async def test_beyond_max_waiters_a_long_poll_is_refused_at_once_and_a_plain_read_is_not() -> None:
    feed, booking_id = ChangeFeed(max_waiters=2), uuid.uuid4()
    reads = 0

    async def read() -> Found:
        nonlocal reads
        reads += 1
        return Found("pending")

    polls = [asyncio.create_task(feed.read(booking_id, read, ["paid"], 30)) for _ in range(2)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert feed.waiters == 2
    before = reads
    with pytest.raises(Overloaded):
        await feed.read(booking_id, read, ["paid"], 30)
    assert reads == before  # refused without touching the database
    assert (await feed.read(booking_id, read, None, 0)).status == "pending"  # no wait: served
    assert (await feed.read(booking_id, read, ["paid"], 0)).status == "pending"
    feed.close()
    await asyncio.wait_for(asyncio.gather(*polls), 1)
    assert feed.waiters == 0


async def test_waiting_requests_share_a_fixed_number_of_connections() -> None:
    feed = ChangeFeed(max_waiters=100, connections=2)
    inside = most = 0

    async def read() -> Found:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.01)  # a query holding its connection
        inside -= 1
        return Found("pending")

    polls = [feed.read(uuid.uuid4(), read, ["paid"], 0.3) for _ in range(50)]
    assert len(await asyncio.gather(*polls)) == 50
    assert most == 2
    assert feed.waiters == 0


async def test_a_waiter_that_fails_gives_its_place_back() -> None:
    feed = ChangeFeed(max_waiters=1)

    async def read() -> Found:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        await feed.read(uuid.uuid4(), read, ["paid"], 5)
    assert feed.waiters == 0


async def test_a_waiter_whose_turn_on_the_shared_connections_never_comes_is_refused() -> None:
    feed = ChangeFeed(max_waiters=10, connections=1, turn_timeout=0.05)
    stuck = asyncio.Event()

    async def read() -> Found:
        await stuck.wait()  # a read that hangs (the database stopped answering)
        return Found("pending")

    holder = asyncio.create_task(feed.read(uuid.uuid4(), read, ["paid"], 0.1))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await feed.read(uuid.uuid4(), read, ["paid"], 5)
    stuck.set()
    assert (await asyncio.wait_for(holder, 5)).status == "pending"
