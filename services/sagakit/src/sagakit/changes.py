"""Long polling: a request waits until a saga's state changes instead of asking again.

Every commit of this process tells the feed which bookings it touched (the incoming
event's and the outgoing events' booking ids); a waiting request wakes up and reads
again. A change committed by another replica is not announced here, so waiters also
read again after 50 ms, 100 ms, 200 ms ... then every second: correct with any number of
replicas, immediate with one, and a long wait costs a read per second. A waiting
request holds no database connection. When the process shuts down, `close()` ends every
wait: each request reads once more and answers with what there is.

Waiting is bounded so that a flood of long polls cannot take the process down: at most
`max_waiters` requests wait at once (the next one gets `Overloaded`, a 503 with
`Retry-After`), all their reads share `connections` database connections, so the
waiters never take the pool from the other requests however many they are, and together
they read again at most `RECHECKS_PER_SECOND` times a second.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from sagakit.errors import NotFound, Overloaded

T = TypeVar("T")


class HasStatus(Protocol):
    """An aggregate whose state a client may wait for."""

    @property
    def status(self) -> Any: ...


S = TypeVar("S", bound=HasStatus)
FIRST_RECHECK_SECONDS = 0.05
MAX_RECHECK_SECONDS = 1.0
# All waiters of a process together read again at most this often per second (for the
# changes of other replicas): 500 waiters look every 5 s instead of every second, and
# a flood of long polls cannot spend the process's CPU on reads. This process's own
# commits still wake their waiters at once.
RECHECKS_PER_SECOND = 100.0
MAX_WAIT_SECONDS = 30.0


class ChangeFeed:
    """Which bookings changed, for the requests of this process waiting on one."""

    def __init__(
        self, max_waiters: int = 500, connections: int = 2, turn_timeout: float = 10.0
    ) -> None:
        self._waiting: dict[uuid.UUID, tuple[asyncio.Event, int]] = {}
        self._closed = False
        self._max_waiters = max_waiters
        self._turn_timeout = turn_timeout
        self._waiters = 0
        self._readers = asyncio.Semaphore(connections)

    @property
    def waiters(self) -> int:
        """Requests waiting now (long polls admitted and not answered yet)."""
        return self._waiters

    def close(self) -> int:
        """Shutdown: wake every waiter and answer later requests at once; returns the waiters."""
        self._closed = True
        for event, _ in self._waiting.values():
            event.set()
        return sum(count for _, count in self._waiting.values())

    def changed(self, booking_ids: Iterable[uuid.UUID]) -> None:
        """Wake everyone waiting on these bookings."""
        for booking_id in booking_ids:
            if (entry := self._waiting.get(booking_id)) is not None:
                entry[0].set()

    async def wait(self, booking_id: uuid.UUID, timeout: float) -> None:
        """Return when the booking changed here, after `timeout` seconds, or on close."""
        if self._closed:
            return
        event, count = self._waiting.get(booking_id, (asyncio.Event(), 0))
        self._waiting[booking_id] = (event, count + 1)
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            current = self._waiting.get(booking_id)
            if current is not None and current[0] is event:
                if current[1] == 1 or event.is_set():
                    # The last waiter leaves, or the change was seen: whoever waits on
                    # this booking next starts on a fresh event.
                    del self._waiting[booking_id]
                else:
                    self._waiting[booking_id] = (event, current[1] - 1)

    async def until(
        self,
        booking_id: uuid.UUID,
        read: Callable[[], Awaitable[T]],
        ready: Callable[[T], bool],
        timeout: float,
    ) -> T:
        """`read()` until `ready` holds or `timeout` passes; then the last read.

        A `NotFound` while waiting means "not yet"; it is raised only at the end. The end
        comes early when the feed is closed (shutdown).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, MAX_WAIT_SECONDS)
        recheck = FIRST_RECHECK_SECONDS
        while True:
            try:
                found = await read()
            except NotFound:
                if self._closed or loop.time() >= deadline:
                    raise
            else:
                if ready(found) or self._closed or loop.time() >= deadline:
                    return found
            await self.wait(booking_id, min(recheck, max(deadline - loop.time(), 0)))
            slowest = max(MAX_RECHECK_SECONDS, self._waiters / RECHECKS_PER_SECOND)
            recheck = min(recheck * 2, slowest)

    async def read(
        self,
        booking_id: uuid.UUID,
        read: Callable[[], Awaitable[S]],
        wait_for: Iterable[Any] | None,
        wait: float,
    ) -> S:
        """`read()` now; with statuses in `wait_for`, once it has one of them (or `wait` ends).

        Raises `Overloaded` when it would wait and `max_waiters` requests already do.
        """
        wanted = set(wait_for or ())
        if not wanted or wait <= 0:
            return await read()
        if self._waiters >= self._max_waiters:
            raise Overloaded(f"{self._waiters} requests are waiting already")
        self._waiters += 1
        try:
            return await self.until(
                booking_id, lambda: self._shared(read), lambda found: found.status in wanted, wait
            )
        finally:
            self._waiters -= 1

    async def _shared(self, read: Callable[[], Awaitable[S]]) -> S:
        # A waiter waits for its turn on the shared connections as long as any request
        # waits for a pooled connection (DB_POOL_TIMEOUT_SECONDS), then gets a 503.
        try:
            async with asyncio.timeout(self._turn_timeout):
                await self._readers.acquire()
        except TimeoutError:
            raise Overloaded("the waiting requests' reads are behind") from None
        try:
            return await read()
        finally:
            self._readers.release()
