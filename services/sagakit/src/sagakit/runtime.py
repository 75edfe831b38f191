"""A service's moving parts and their lifecycle: engine, Redis, broker, consumers, relay.

Nothing here runs at import time. A service's `bootstrap.py` describes itself
with a `ServiceSpec`; the web app creates a `ServiceRuntime` from it in its
lifespan and starts it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit import db, metrics, monitoring, telemetry
from sagakit.changes import ChangeFeed
from sagakit.consumer import EventConsumer
from sagakit.deadletter import DeadLetterQueue
from sagakit.events import EventType
from sagakit.monitoring import Sampler
from sagakit.outbox import OutboxRelay
from sagakit.settings import ServiceSettings, Transport
from sagakit.tables import MessagingTables
from sagakit.transport import EventBus
from sagakit.uow import AbstractUnitOfWork, Handler

log = logging.getLogger(__name__)


class UnitOfWorkFactory(Protocol):
    """The service's SQL unit of work class (a `sagakit.postgres.SqlUnitOfWork`)."""

    def __call__(
        self,
        engine: AsyncEngine,
        tables: MessagingTables,
        producer: str,
        on_commit: Callable[[], None],
        *,
        on_change: Callable[[set[uuid.UUID]], None],
    ) -> Any: ...


@dataclass(frozen=True)
class ServiceSpec:
    """What makes one service different from the others."""

    name: str
    tables: MessagingTables
    unit_of_work: UnitOfWorkFactory
    publishes: tuple[EventType, ...]
    handlers: Mapping[EventType, Handler] = field(default_factory=dict)
    sampler: Sampler | None = None


class ServiceRuntime:
    """Owns the connections and background tasks of one service process."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.engine = db.create_engine(
            settings.resolved_database_url(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=settings.db_pool_pre_ping,
        )
        telemetry.instrument_engine(self.engine)
        self.redis = Redis.from_url(settings.redis_url)
        self.bus = EventBus(settings, self.redis)
        self.dead_letters = DeadLetterQueue(
            self.redis, settings.event_prefix + settings.dead_letter_stream
        )
        self.changes = ChangeFeed()
        self.relay = OutboxRelay(
            self.engine,
            spec.tables.outbox,
            self.bus.publish,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        self.consumer = EventConsumer(
            group=spec.name,
            new_uow=self.new_uow,
            dead_letters=self.dead_letters,
            max_deliveries=settings.max_deliveries,
            transport=settings.event_transport.value,
        )
        self.bus.declare_publishers(spec.publishes)
        for event_type, handler in spec.handlers.items():
            self.bus.subscribe(event_type, self.consumer, handler)
        self._relay_task: asyncio.Task[None] | None = None
        self._sampler_task: asyncio.Task[None] | None = None
        self._stopped = False

    def new_uow(self) -> AbstractUnitOfWork:
        """A fresh unit of work whose commits wake the relay."""
        uow: AbstractUnitOfWork = self.spec.unit_of_work(
            self.engine,
            self.spec.tables,
            self.spec.name,
            self.relay.wake,
            on_change=self.changes.changed,
        )
        return uow

    async def start(self) -> None:
        """Connect, start consuming and start relaying."""
        await self.bus.broker.start()
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.spec.name}-relay")
        self._sampler_task = asyncio.create_task(
            monitoring.sample_forever(self.settings.metrics_interval_seconds, self._probes()),
            name=f"{self.spec.name}-metrics",
        )
        log.info(
            "%s started: transport=%s consumer=%s",
            self.spec.name,
            self.settings.event_transport.value,
            self.settings.consumer_name,
        )

    async def stop(self) -> None:
        """Stop consuming first, then relaying, then close connections (once)."""
        if self._stopped:
            return
        self._stopped = True
        await _cancel(self._sampler_task)
        await self.bus.broker.stop()
        self.relay.stop()
        await _cancel(self._relay_task)
        await self.redis.aclose()
        await self.engine.dispose()

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

        async def own() -> None:
            if self.spec.sampler is not None:
                await self.spec.sampler(engine)

        return [outbox, streams, dead_letters, own]

    async def check(self) -> dict[str, str]:
        """Readiness: does the database answer, does Redis answer?"""
        results: dict[str, str] = {}
        try:
            await asyncio.wait_for(db.ping(self.engine), timeout=2)
            results["database"] = "ok"
        except Exception as exc:
            results["database"] = f"error: {exc.__class__.__name__}"
        try:
            await asyncio.wait_for(self.redis.ping(), timeout=2)
            results["redis"] = "ok"
        except Exception as exc:
            results["redis"] = f"error: {exc.__class__.__name__}"
        return results


async def _cancel(task: asyncio.Task[None] | None) -> None:
    # A cancellation can be absorbed by a driver mid-call; ask again until the task ends.
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
