"""A tiny service built only from sagakit, on the real Postgres and Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Uuid, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.db import create_engine
from sagakit.domain import Aggregate
from sagakit.events import CreatedBooking, EventType, SagaEvent
from sagakit.postgres import SqlUnitOfWork
from sagakit.runtime import ServiceRuntime
from sagakit.settings import ServiceSettings, Transport
from sagakit.spec import ServiceSpec
from sagakit.sql import Query
from sagakit.tables import messaging_tables
from sagakit.testing import (
    DATABASE_PREFIX,
    REDIS_URL,
    fresh_database,
    run_keyring,
    unique_prefix,
)

# The test service plays booking's part of the choreography (it publishes
# CREATED_BOOKING_EVENT, which only booking may) and hears two event types.
NAME = "booking"

metadata = MetaData()
messaging = messaging_tables(metadata)
notes = Table(
    "notes",
    metadata,
    Column("booking_id", Uuid, primary_key=True),
    Column("seen", Integer, nullable=False),
)


class NotesUnitOfWork(SqlUnitOfWork):
    """Writes notes with one-off statements on `sql` (no repository)."""


@dataclass(kw_only=True)
class Note(Aggregate):
    booking_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def created(self) -> CreatedBooking:
        event = CreatedBooking(
            booking_id=self.booking_id, customer_id="c", item="i", amount=Decimal("1.00")
        )
        self.raise_event(event)
        return event


class Behaviour:
    """What the test service's handlers do; tests flip it."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.poisoned: set[uuid.UUID] = set()
        self.hold: asyncio.Event | None = None  # set: handlers wait for it (a slow handler)
        self.entered = asyncio.Event()
        self.transactions: list[int] = []  # txid_current() of each handling that wrote
        # Awaited after each handler's write, its row still locked (set: a test's pause).
        self.after_write: Callable[[SagaEvent, int], Awaitable[None]] | None = None

    def count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1


def make_handlers(behaviour: Behaviour) -> dict[EventType, Callable[..., Awaitable[None]]]:
    async def note(event: SagaEvent, uow: NotesUnitOfWork) -> None:
        behaviour.count(event.event_type)
        if behaviour.hold is not None:
            behaviour.entered.set()
            await behaviour.hold.wait()
        if event.booking_id in behaviour.poisoned:
            raise RuntimeError(f"poisoned {event.booking_id}")
        async with uow:
            txid = int(await uow.sql.scalar(_TXID) or 0)
            behaviour.transactions.append(txid)
            statement = insert(notes).values(booking_id=event.booking_id, seen=1)
            await uow.sql.execute(
                statement.on_conflict_do_update(
                    index_elements=["booking_id"], set_={"seen": notes.c.seen + 1}
                )
            )
            if behaviour.after_write is not None:
                await behaviour.after_write(event, txid)
            await uow.commit()

    return {EventType.CREATED_BOOKING_EVENT: note, EventType.REJECTED_BOOKING_EVENT: note}


_TXID = Query(text("SELECT txid_current()"))


async def create_tables(url: str) -> None:
    """The test service's tables in the database at `url`."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


async def seen_on(engine: AsyncEngine, booking_id: uuid.UUID) -> int:
    """How many times the test service's handler committed for a booking."""
    async with engine.connect() as conn:
        query = select(notes.c.seen).where(notes.c.booking_id == booking_id)
        return int(await conn.scalar(query) or 0)


async def commit_created_on(
    engine: AsyncEngine, on_commit: Callable[[], None] | None = None
) -> uuid.UUID:
    """Commit a state change that raises CREATED_BOOKING_EVENT; returns the booking id."""
    note = Note()
    note.created()
    async with NotesUnitOfWork(engine, messaging, NAME, on_commit) as uow:
        uow.track(note)
        await uow.commit()
    return note.booking_id


@dataclass(frozen=True)
class NotesKit:
    """The test service's steps, for tests that bring servers of their own."""

    create_tables: Callable[[str], Awaitable[None]] = create_tables
    commit_created: Callable[[AsyncEngine], Awaitable[uuid.UUID]] = commit_created_on
    seen: Callable[[AsyncEngine, uuid.UUID], Awaitable[int]] = seen_on


@pytest.fixture
def notes_kit() -> NotesKit:
    return NotesKit()


@pytest.fixture(scope="session")
async def database_url() -> str:
    url = await fresh_database(f"{DATABASE_PREFIX}sagakit")
    await create_tables(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour()


RuntimeFactory = Callable[..., Awaitable[ServiceRuntime]]


@pytest.fixture
def notes_spec(behaviour: Behaviour) -> ServiceSpec:
    """The test service: publishes CREATED and notes each CREATED/REJECTED it consumes."""
    return ServiceSpec(
        name=NAME,
        tables=messaging,
        unit_of_work=NotesUnitOfWork,
        publishes=(EventType.CREATED_BOOKING_EVENT,),
        handlers=make_handlers(behaviour),
    )


@pytest.fixture
async def start_runtime(
    database_url: str, notes_spec: ServiceSpec
) -> AsyncIterator[RuntimeFactory]:
    started: list[ServiceRuntime] = []
    prefix = unique_prefix()

    async def start(
        transport: Transport = Transport.STREAMS,
        background: frozenset[EventType] = frozenset(),
        **overrides: object,
    ) -> ServiceRuntime:
        fast: dict[str, object] = {
            "max_deliveries": 3,
            "claim_idle_ms": 200,
            "poll_interval_ms": 20,
            "relay_poll_seconds": 0.2,
            "event_signing_key": run_keyring().keys[NAME].setting(),
            "event_verify_keys": run_keyring().verify_keys(),
        }
        servers: dict[str, object] = {"database_url": database_url, "redis_url": REDIS_URL}
        settings = ServiceSettings(
            service_name=NAME,
            event_transport=transport,
            event_prefix=prefix,
            **{**servers, **fast, **overrides},
        )
        runtime = ServiceRuntime(replace(notes_spec, background=background), settings)
        await runtime.start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        await runtime.stop()


@pytest.fixture
def seen(engine: AsyncEngine) -> Callable[[uuid.UUID], Awaitable[int]]:
    """How many times the test service's handler committed for a booking."""
    return lambda booking_id: seen_on(engine, booking_id)


@pytest.fixture
def commit_created(engine: AsyncEngine) -> Callable[..., Awaitable[uuid.UUID]]:
    """Commit a state change that raises CREATED_BOOKING_EVENT; returns the booking id."""
    return lambda on_commit=None: commit_created_on(engine, on_commit)


@pytest.fixture
def outbox_table() -> Table:
    return messaging.outbox
