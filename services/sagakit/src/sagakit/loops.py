"""The periodic loops of a service process: metrics sampling, retention, Redis
housekeeping and deadline sweeps.

The runtime (sagakit.runtime) starts the sampler at once and the other loops once the
service consumes (the schema gate is open), and stops them all at shutdown, before the
consumers stop and the outbox drains for the last time: what a sweep fired still leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit import deadlines, housekeeping, metrics, monitoring, retention
from sagakit.changes import ChangeFeed
from sagakit.deadletter import DeadLetterQueue
from sagakit.settings import ServiceSettings, Transport
from sagakit.spec import ServiceSpec
from sagakit.transport import EventBus
from sagakit.uow import AbstractUnitOfWork
from sagakit.waiting import cancel


@dataclass
class Loops:
    """Owns the background tasks that are neither consumers nor the relay."""

    spec: ServiceSpec
    settings: ServiceSettings
    engine: AsyncEngine
    redis: Redis
    bus: EventBus
    dead_letters: DeadLetterQueue
    changes: ChangeFeed
    new_uow: Callable[[], AbstractUnitOfWork]
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def sample(self) -> None:
        """Sample the gauges every `metrics_interval_seconds` (from the start on)."""
        coro = monitoring.sample_forever(self.settings.metrics_interval_seconds, self._probes())
        self._spawn(coro, f"{self.spec.name}-metrics")

    def start(self) -> None:
        """Retention, housekeeping and (if the service has any) deadline sweeps."""
        self._spawn(self._purge(), "retention")
        self._spawn(self._housekeep(), "housekeeping")
        if self.spec.deadlines:
            self._spawn(self._sweep(), "deadlines")

    async def stop(self) -> None:
        """Cancel every loop and wait for each to end."""
        for task in self._tasks:
            await cancel(task)
        self._tasks.clear()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    def _sweep(self) -> Coroutine[Any, Any, None]:
        settings = self.settings
        return deadlines.sweep_forever(
            self.spec.deadlines,
            self.new_uow,
            self.spec.name,
            settings.deadline_sweep_seconds,
            settings.deadline_batch_size,
        )

    def _housekeep(self) -> Coroutine[Any, Any, None]:
        settings = self.settings
        return housekeeping.housekeep_forever(
            self.redis,
            self.dead_letters.stream,
            self.bus.groups,
            settings.consumer_name,
            service=self.spec.name,
            interval=settings.retention_interval_seconds,
            dead_letter_days=settings.dead_letter_retention_days,
            reap_idle_seconds=settings.consumer_reap_idle_seconds,
        )

    def _purge(self) -> Coroutine[Any, Any, None]:
        settings, tables = self.settings, self.spec.tables
        inbox = retention.Expiry(
            tables.inbox,
            "processed_at",
            settings.inbox_retention_days,
            floor=lambda: housekeeping.oldest_undone(self.redis, self.bus.groups),
        )
        outbox = retention.Expiry(
            tables.outbox, "published_at", settings.outbox_retention_hours / 24
        )
        expiring = (inbox, outbox, *self.spec.expiring)
        if self.spec.idempotency_keys is not None:
            hours = settings.idempotency_retention_hours
            keys = retention.Expiry(self.spec.idempotency_keys, "created_at", hours / 24)
            expiring = (*expiring, keys)
        return retention.purge_forever(
            self.engine,
            expiring,
            self.spec.name,
            settings.retention_interval_seconds,
            settings.retention_batch_size,
        )

    def _probes(self) -> list[Callable[[], Awaitable[None]]]:
        name, engine = self.spec.name, self.engine

        async def outbox() -> None:
            await monitoring.sample_outbox(engine, self.spec.tables.outbox, name)

        async def streams() -> None:
            if self.settings.event_transport is Transport.STREAMS:
                names = [self.bus.name(event_type) for event_type in self.spec.handlers]
                await monitoring.sample_streams(self.redis, names, name)

        async def dead_letters() -> None:
            metrics.DEAD_LETTERS.labels(name).set(await self.dead_letters.size())

        async def waiters() -> None:
            metrics.LONG_POLL_WAITERS.labels(name).set(self.changes.waiters)

        async def own() -> None:
            if self.spec.sampler is not None:
                await self.spec.sampler(engine)

        return [outbox, streams, dead_letters, waiters, own]
