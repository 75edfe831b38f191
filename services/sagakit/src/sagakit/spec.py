"""What makes one service different from the others: its `ServiceSpec`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.deadlines import Deadline
from sagakit.events import EventType
from sagakit.monitoring import Sampler
from sagakit.outbox import OutboxMessage
from sagakit.reconcile import StuckFinder
from sagakit.retention import Expiry
from sagakit.tables import MessagingTables
from sagakit.uow import Handler


class UnitOfWorkFactory(Protocol):
    """The service's SQL unit of work class (a `sagakit.postgres.SqlUnitOfWork`)."""

    def __call__(
        self,
        engine: AsyncEngine,
        tables: MessagingTables,
        producer: str,
        on_commit: Callable[[list[OutboxMessage]], None],
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
    # Handled events no saga step waits for (journal entries, bookkeeping): read in
    # larger batches, `background_linger_ms` apart, for fewer transactions per event.
    background: frozenset[EventType] = frozenset()
    sampler: Sampler | None = None
    # The Alembic script location ("booking:migrations"); the schema gate compares the
    # database with its head. None: no gate.
    migrations: str | None = None
    # Tables besides the inbox that only grow with traffic (sagakit.retention).
    expiring: tuple[Expiry, ...] = ()
    # The keys of idempotent commands (sagakit.tables.idempotency_table), if its API
    # takes any; they expire after IDEMPOTENCY_RETENTION_HOURS.
    idempotency_keys: Table | None = None
    # What the service's sagas must not wait for forever (sagakit.deadlines).
    deadlines: tuple[Deadline, ...] = ()
    # Finds the sagas that stopped moving (booking's; sagakit.reconcile). None: this
    # service only answers reconcile requests.
    stuck: StuckFinder | None = None

    def __post_init__(self) -> None:
        unhandled = self.background - self.handlers.keys()
        if unhandled:
            names = ", ".join(sorted(unhandled))
            raise ValueError(f"background events must be handled here: {names} is not")
