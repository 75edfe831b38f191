"""A service's defences against a broker that forgot: the watchdog and the reconciler.

docs/reliability.md, "When the broker forgets", tells the whole story: the watchdog
(sagakit.watchdog) restarts subscribers FastStream stopped and ends the process when it
cannot; every service answers reconcile requests (sagakit.reconcile), and booking,
whose spec can find the sagas that stopped moving, sends them periodically.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.authenticity import Authenticity
from sagakit.outbox import OutboxRelay
from sagakit.reconcile import Backoff, ReconcileChannel, reconcile_forever, reconcile_stuck
from sagakit.settings import ServiceSettings
from sagakit.spec import ServiceSpec
from sagakit.transport import EventBus
from sagakit.waiting import cancel
from sagakit.watchdog import Watchdog

log = logging.getLogger(__name__)


class Recovery:
    """The watchdog and the reconciler of one service process."""

    def __init__(
        self,
        spec: ServiceSpec,
        settings: ServiceSettings,
        bus: EventBus,
        redis: Redis,
        relay: OutboxRelay,
        authenticity: Authenticity,
        engine: AsyncEngine,
    ) -> None:
        self._spec, self._settings, self._engine = spec, settings, engine
        after = timedelta(seconds=settings.reconcile_after_seconds)
        self.channel = ReconcileChannel(
            bus.broker,
            settings.event_prefix,
            spec.name,
            relay,
            authenticity.verifier,
            lambda: authenticity.signer,
            guard=after / 2,
        )
        # Asked again after `after`, 2x, 4x ... at most 32x, and always well within the
        # time the outbox keeps the rows the request is about.
        kept = timedelta(hours=settings.outbox_retention_hours)
        self.backoff = Backoff(after, min(after * 32, kept / 2))
        self.watchdog = Watchdog(
            lambda: bus.subscribers,
            bus.ensure_groups,
            redis.ping,
            interval=settings.consumer_watch_seconds,
            give_up_after=settings.consumer_recover_seconds,
            on_give_up=self._give_up,
        )
        self.fatal: str | None = None  # why the process must end with a non-zero status
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Watch the subscribers; reconcile periodically where the spec can find sagas."""
        self._tasks.append(asyncio.create_task(self.watchdog.run(), name="watchdog"))
        interval = self._settings.reconcile_interval_seconds
        if self._spec.stuck is not None and interval > 0:
            rounds = reconcile_forever(
                self._spec.stuck, self._engine, self.backoff, self.channel, interval
            )
            self._tasks.append(asyncio.create_task(rounds, name="reconcile"))

    async def stop(self) -> None:
        """Stop watching (before the subscribers stop, on purpose) and reconciling."""
        for task in self._tasks:
            await cancel(task)

    async def reconcile_stuck(self, force: bool) -> list[uuid.UUID]:
        """Ask every service about the sagas that stopped moving now (booking only)."""
        if self._spec.stuck is None:
            raise RuntimeError(f"{self._spec.name} does not know the sagas' states")
        find, engine = self._spec.stuck, self._engine
        return await reconcile_stuck(find, engine, self.backoff, self.channel, force)

    def describe(self) -> str:
        """The readiness of the consumers: `ok`, or why not."""
        if self.fatal is not None:
            return f"error: {self.fatal}"
        return self.watchdog.describe()

    def _give_up(self, reason: str) -> None:
        # The subscribers could not be restarted in process: end it, not ready meanwhile,
        # so Kubernetes (or `sagactl up`) starts a fresh one. `sagakit.server` exits 1.
        if self.fatal is None:
            self.fatal = reason
            log.critical("giving up: %s; stopping the process", reason)
            os.kill(os.getpid(), signal.SIGTERM)
