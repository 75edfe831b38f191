"""The saga journal stored in Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, exists, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import TextualSelect

from booking.adapters import saga_metrics
from booking.adapters.orm import bookings, saga_journal
from booking.domain.timeline import JournalEntry
from booking.service_layer.unit_of_work import AbstractJournalRepository
from sagakit.events import EventType


class SqlJournalRepository(AbstractJournalRepository):
    """Writes journal entries on the unit of work's connection; times each step after commit."""

    def __init__(
        self, connection: AsyncConnection, after_commit: Callable[[Callable[[], None]], None]
    ) -> None:
        self._conn = connection
        self._after_commit = after_commit

    async def add(self, entry: JournalEntry) -> None:
        await self._conn.execute(insert(saga_journal).values(**_row(entry)))
        self._time_step(entry, await self._conn.scalar(select(self._previous(entry))))

    async def add_if_new(self, entry: JournalEntry, inbox_insert: TextualSelect) -> bool:
        """Journal `entry` only if `inbox_insert` (INSERT .. RETURNING) inserts a row.

        One round trip: the inbox insert and the journal insert are data-modifying CTEs
        of the query that reads when the previous step ended.
        """
        fresh = inbox_insert.cte("fresh")
        columns = _row(entry)
        values = select(*(literal(v, saga_journal.c[k].type) for k, v in columns.items()))
        journaled = insert(saga_journal).from_select(
            list(columns), values.where(exists(select(fresh.c.event_id)))
        )
        query = select(
            select(fresh.c.event_id).scalar_subquery().label("fresh"),
            self._previous(entry).label("previous"),
        ).add_cte(journaled.cte("journaled"))
        row = (await self._conn.execute(query)).one()
        if row.fresh is None:
            return False
        self._time_step(entry, row.previous)
        return True

    def _time_step(self, entry: JournalEntry, previous: datetime | None) -> None:
        if previous is not None:
            seconds = (entry.occurred_at - previous).total_seconds()
            self._after_commit(partial(saga_metrics.step_ended, entry.event_type, seconds))

    async def entries(self, booking_id: uuid.UUID) -> list[JournalEntry]:
        query = (
            select(saga_journal)
            .where(saga_journal.c.booking_id == booking_id)
            .order_by(saga_journal.c.occurred_at, saga_journal.c.recorded_at)
        )
        rows = (await self._conn.execute(query)).mappings().all()
        return [_entry(row) for row in rows]

    @staticmethod
    def _previous(entry: JournalEntry) -> ColumnElement[datetime]:
        """When the step before this one ended: the latest earlier event, else the booking."""
        earlier = (
            select(func.max(saga_journal.c.occurred_at))
            .where(saga_journal.c.booking_id == entry.booking_id)
            .where(saga_journal.c.occurred_at < entry.occurred_at)
            .scalar_subquery()
        )
        created = select(bookings.c.created_at).where(bookings.c.id == entry.booking_id)
        return func.coalesce(earlier, created.scalar_subquery())


def _row(entry: JournalEntry) -> dict[str, Any]:
    # Shallow on purpose: dataclasses.asdict deep-copies every UUID and datetime.
    row = {field.name: getattr(entry, field.name) for field in fields(entry)}
    return {**row, "event_type": entry.event_type.value}


def _entry(row: Any) -> JournalEntry:
    return JournalEntry(**{**row, "event_type": EventType(row["event_type"])})
