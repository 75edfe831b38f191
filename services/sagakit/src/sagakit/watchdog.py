"""Keeps the event subscribers running when Redis forgets their consumer groups.

FastStream stops a stream subscriber for good when its group is gone (NOGROUP: Redis
restarted without persistence, a failover to a replica that never had the group, a
FLUSHALL). It would exit the process only inside a FastStream app; ours runs in the
FastAPI lifespan, so without this module the process would keep running, answering
HTTP, with a consumer that reads nothing. Our own stream readers (sagakit.reader) stop
the same way on NOGROUP and are watched alike.

Every `consumer_watch_seconds` the watchdog looks at the broker's subscribers. When one
has stopped, it recreates the missing groups (at the stream's start, sagakit.groups: what
producers wrote meanwhile is read, not skipped) and starts the subscriber again in the
same process. It also recreates them as soon as Redis answers again after it did not,
before the subscribers notice. A subscriber still stopped after `consumer_recover_seconds`
makes it give up: `on_give_up` (the runtime logs, and ends the process with a non-zero
status, so Kubernetes or `sagactl up` starts it again). Meanwhile `/readyz` says not
ready (`describe`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Subscriber(Protocol):
    """What the watchdog needs of a FastStream subscriber or a stream reader."""

    running: bool

    async def start(self) -> None: ...


class Watchdog:
    """Restarts stopped subscribers; gives up after a bound."""

    def __init__(
        self,
        subscribers: Callable[[], Sequence[Any]],
        ensure_groups: Callable[[], Awaitable[list[tuple[str, str]]]],
        ping: Callable[[], Awaitable[Any]],
        *,
        interval: float,
        give_up_after: float,
        on_give_up: Callable[[str], None],
    ) -> None:
        self._subscribers = subscribers
        self._ensure_groups = ensure_groups
        self._ping = ping
        self._interval = interval
        self._give_up_after = give_up_after
        self._on_give_up = on_give_up
        self._stopped_since: float | None = None
        self._redis_lost = False
        self.restarts = 0

    def stopped(self) -> list[Subscriber]:
        """The subscribers that are not running."""
        return [sub for sub in self._subscribers() if not sub.running]

    def describe(self) -> str:
        """`ok`, or how many subscribers are stopped and for how long (readiness)."""
        stopped, total = len(self.stopped()), len(self._subscribers())
        if not stopped:
            return "ok"
        since = self._stopped_since
        waited = f" for {time.monotonic() - since:.0f}s" if since is not None else ""
        return f"error: {stopped} of {total} subscribers stopped{waited}, recovering"

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            await self.round()

    async def round(self) -> bool:
        """One look: restart what stopped. Returns True when every subscriber runs."""
        await self._after_reconnect()
        stopped = self.stopped()
        if not stopped:
            self._stopped_since = None
            return True
        now = time.monotonic()
        if self._stopped_since is None:
            self._stopped_since = now
        try:
            created = await self._ensure_groups()
            if created:
                log.warning("recreated %d consumer groups at the stream start", len(created))
            for sub in stopped:
                await sub.start()
                self.restarts += 1
                log.warning("restarted a stopped subscriber: %s", _name(sub))
        except Exception as exc:  # Redis away again: the next round tries again
            log.warning("could not restart the stopped subscribers yet: %r", exc)
        if not self.stopped():
            self._stopped_since = None
            return True
        if now - self._stopped_since >= self._give_up_after:
            left = ", ".join(_name(sub) for sub in self.stopped())
            self._on_give_up(f"subscribers stopped for {self._give_up_after:g}s: {left}")
        return False

    async def _after_reconnect(self) -> None:
        # Redis answered again after it did not: it may have come back empty. Recreate the
        # groups now, before the subscribers read (and stop on NOGROUP).
        try:
            await self._ping()
        except Exception:
            self._redis_lost = True
            return
        if self._redis_lost:
            self._redis_lost = False
            try:
                created = await self._ensure_groups()
            except Exception as exc:
                log.warning("could not check the consumer groups after a reconnect: %r", exc)
                self._redis_lost = True
                return
            if created:
                log.warning("Redis lost %d consumer groups: recreated them", len(created))


def _name(sub: Any) -> str:
    spec = getattr(sub, "specification", None)
    return str(getattr(spec, "call_name", None) or sub)
