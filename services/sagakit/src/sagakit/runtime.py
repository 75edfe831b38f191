"""A service's moving parts and their lifecycle: engine, Redis, broker, consumers, relay,
recovery and the background loops (sagakit.loops).

Nothing here runs at import time. A service's `bootstrap.py` describes itself
with a `ServiceSpec` (sagakit.spec); the web app creates a `ServiceRuntime` from it in its
lifespan and starts it.

Start: wait for Redis (retrying for `redis_wait_seconds`), create the consumer
groups, then consume and relay once the schema gate is open. Stop, after the HTTP
server drained: the consumers finish the messages in hand, the relay drains the
outbox once more, the connections close. docs/operations.md tells the whole story.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sagakit import db, telemetry
from sagakit.authenticity import Authenticity
from sagakit.changes import ChangeFeed
from sagakit.choreography import CONTROL_OWNER, OWNERS
from sagakit.consumer import EventConsumer
from sagakit.deadletter import DeadLetterQueue
from sagakit.loops import Loops
from sagakit.outbox import OutboxRelay
from sagakit.reconcile import ReconcileChannel
from sagakit.recovery import Recovery
from sagakit.schema import SchemaGate
from sagakit.settings import ServiceSettings
from sagakit.spec import ServiceSpec
from sagakit.transport import EventBus
from sagakit.uow import AbstractUnitOfWork
from sagakit.waiting import cancel, retry
from sagakit.watchdog import Watchdog

log = logging.getLogger(__name__)

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


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
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        telemetry.instrument_engine(self.engine)
        self.redis = Redis.from_url(settings.redis_url)
        self.bus = EventBus(settings, self.redis)
        self.dead_letters = DeadLetterQueue(
            self.redis, settings.event_prefix + settings.dead_letter_stream
        )
        self.changes = ChangeFeed(
            max_waiters=settings.long_poll_max_waiters,
            # Never more than the pool holds: the waiters must leave connections to the rest.
            connections=min(settings.long_poll_connections, settings.db_pool_size),
            turn_timeout=settings.db_pool_timeout_seconds,
        )
        self.authenticity = Authenticity.from_settings(
            settings.event_prefix,
            settings.event_signing_key.get_secret_value(),
            settings.event_verify_keys,
        )
        self.relay = OutboxRelay(
            self.engine,
            spec.tables.outbox,
            lambda messages: self.bus.publish(self.authenticity.sign(messages)),
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        self.consumer = EventConsumer(
            group=spec.name,
            new_uow=self.new_uow,
            dead_letters=self.dead_letters,
            max_deliveries=settings.max_deliveries,
            transport=settings.event_transport.value,
            authenticity=self.authenticity,
            outage_seconds=settings.outage_window_seconds(),
        )
        self.bus.declare_publishers(spec.publishes)
        # Never above a quarter of CLAIM_IDLE_MS: a handled entry whose ack waits for the
        # next read must not look abandoned to the claim of pending entries.
        unhurried = min(settings.background_linger_ms, settings.claim_idle_ms / 4) / 1000
        for event_type, handler in spec.handlers.items():
            linger = unhurried if event_type in spec.background else 0.0
            self.bus.subscribe(event_type, self.consumer, handler, linger=linger)
        self.recovery = Recovery(
            spec, settings, self.bus, self.redis, self.relay, self.authenticity, self.engine
        )
        self.reconcile: ReconcileChannel = self.recovery.channel
        self.watchdog: Watchdog = self.recovery.watchdog
        self.schema = SchemaGate(self.engine, spec.migrations, settings.schema_check_seconds)
        self.loops = Loops(
            spec,
            settings,
            self.engine,
            self.redis,
            self.bus,
            self.dead_letters,
            self.changes,
            self.new_uow,
        )
        self._gate_task: asyncio.Task[None] | None = None
        self._shutdown_began: float | None = None
        self._consuming = False
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
        """Wait for Redis, then consume and relay now or once the schema gate opens.

        Raises `NotReachable` when Redis does not answer within `redis_wait_seconds`, and
        `MissingKeys` without the keys to sign what it publishes and verify what it hears.
        """
        heard = {OWNERS[event_type] for event_type in self.spec.handlers} | {CONTROL_OWNER}
        self.authenticity.require(self.spec.name, self.spec.publishes, heard)
        wait, began = self.settings.redis_wait_seconds, time.monotonic()
        await self._retry_redis(self.bus.connect, wait)
        await self.schema.check()
        if self.schema.open:  # the broker's start shares the one wait for Redis
            await self._start_consuming(max(0.0, wait - (time.monotonic() - began)))
        else:
            self._gate_task = asyncio.create_task(self._open_later(), name="schema-gate")
        self.loops.sample()
        log.info(
            "%s started: transport=%s consumer=%s schema=%s",
            self.spec.name,
            self.settings.event_transport.value,
            self.settings.consumer_name,
            self.schema.describe(),
        )

    async def _open_later(self) -> None:
        started = time.perf_counter()
        await self.schema.wait_open()
        log.info("schema gate opened after %.1fs: consuming", time.perf_counter() - started)
        await self._start_consuming(math.inf)  # Redis may be restarting meanwhile: keep trying

    async def _start_consuming(self, wait: float) -> None:
        await self._retry_redis(self.bus.start, wait)
        self._consuming = True
        self.relay.start()
        self.recovery.start()
        self.loops.start()

    async def reconcile_stuck(self, force: bool = True) -> list[uuid.UUID]:
        """Ask every service about the sagas that stopped moving now (booking only)."""
        return await self.recovery.reconcile_stuck(force)

    @property
    def fatal(self) -> str | None:
        """Why the process must end with a non-zero status (the watchdog gave up)."""
        return self.recovery.fatal

    async def _retry_redis(self, action: Callable[[], Awaitable[None]], wait: float) -> None:
        where = urlsplit(self.settings.redis_url)
        what = f"Redis at {where.hostname}:{where.port or 6379}"
        await retry(action, wait=wait, errors=REDIS_ERRORS, what=what)

    def begin_shutdown(self) -> None:
        """The signal arrived: answer the waiting long polls now (the server drains next)."""
        if self._shutdown_began is None:
            self._shutdown_began = time.perf_counter()
            log.info("shutdown: %d waiting long polls answered", self.changes.close())

    async def stop(self) -> None:
        """Stop consuming (the messages in hand finish), drain the outbox, close (once)."""
        if self._stopped:
            return
        self._stopped = True
        if self._shutdown_began is not None:
            elapsed = time.perf_counter() - self._shutdown_began
            log.info("shutdown: HTTP requests drained in %.3fs", elapsed)
        self.begin_shutdown()
        await self.recovery.stop()  # the subscribers stop next, on purpose
        await cancel(self._gate_task)
        await self.loops.stop()  # before the last drain: what a deadline fired leaves now
        if self._consuming:
            with _phase("event consumers stopped"):
                handed = await self.bus.stop_consuming()
                if handed:
                    log.info("shutdown: %d messages read but not started went back", handed)
        with _phase("outbox drained"):
            published = await self.relay.close(self.settings.shutdown_relay_seconds)
            if published:
                log.info("shutdown: the last drain published %d outbox rows", published)
        with _phase("connections closed"):
            await self.bus.broker.stop()
            await self.redis.aclose()
            await self.engine.dispose()

    async def check(self) -> dict[str, str]:
        """Readiness: do the database and Redis answer, do all consumers run? And the schema.

        `consumers` is `ok` before consuming began (the schema gate is closed: `schema`
        says so) and while every subscriber runs; not while one is stopped (sagakit.watchdog).
        """
        results: dict[str, str] = {"schema": self.schema.describe()}
        results["consumers"] = "ok" if not self._consuming else self.recovery.describe()
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


@contextmanager
def _phase(name: str) -> Iterator[None]:
    # Each step of the shutdown is tried even when one before it failed (Redis gone ...).
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        log.warning("shutdown: %s with an error: %r", name, exc)
        return
    log.info("shutdown: %s in %.3fs", name, time.perf_counter() - started)
