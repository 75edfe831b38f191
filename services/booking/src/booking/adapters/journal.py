"""The saga journal stored in Postgres.

Its statements are compiled once, here (sagakit.sql), and run on the unit of work's
psycopg connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, func, insert, select, text
from sqlalchemy.dialects import postgresql

from booking.adapters import saga_metrics
from booking.adapters.orm import bookings, messaging, saga_journal
from booking.domain.timeline import JournalEntry
from booking.service_layer.unit_of_work import AbstractJournalRepository
from sagakit.events import EventType
from sagakit.sql import Query, Sql


class SqlJournalRepository(AbstractJournalRepository):
    """Writes journal entries in the unit of work's transaction; times each step after commit."""

    def __init__(self, sql: Sql, after_commit: Callable[[Callable[[], None]], None]) -> None:
        self._sql = sql
        self._after_commit = after_commit

    async def add(self, entry: JournalEntry) -> None:
        row = _row(entry)
        await self._sql.execute(_INSERT, row)
        self._time_step(entry, await self._sql.scalar(_PREVIOUS, row))

    async def add_if_new(self, entry: JournalEntry, consumer: str) -> bool:
        """Record the event in `consumer`'s inbox and journal it, only if the inbox had
        no row for it yet: False for a duplicate.

        One round trip: the inbox insert and the journal insert are data-modifying CTEs
        of the query that reads when the previous step ended.
        """
        row = await self._sql.fetch_one(_ADD_IF_NEW, {**_row(entry), "consumer": consumer})
        if row is None or row["fresh"] is None:
            return False
        self._time_step(entry, row["previous"])
        return True

    async def add_many_if_new(self, entries: list[JournalEntry], consumer: str) -> set[uuid.UUID]:
        """`add_if_new` for a batch's entries (distinct event ids) in one statement: the
        ids that were new.

        The statement's reads see the journal as it was before it ran, so an entry's
        previous step may also be an earlier entry of the same booking in this batch.
        """
        values: dict[str, list[Any]] = {field.name: [] for field in fields(JournalEntry)}
        for entry in entries:
            for name, value in _row(entry).items():
                values[name].append(value)
        rows = await self._sql.fetch_all(_ADD_MANY_IF_NEW, {**values, "consumer": consumer})
        fresh = {row["event_id"]: row["previous"] for row in rows}
        added = [entry for entry in entries if entry.event_id in fresh]
        for entry in added:
            earlier = [
                other.occurred_at
                for other in added
                if other.booking_id == entry.booking_id and other.occurred_at < entry.occurred_at
            ]
            candidates = [t for t in (fresh[entry.event_id], *earlier) if t is not None]
            self._time_step(entry, max(candidates, default=None))
        return set(fresh)

    def _time_step(self, entry: JournalEntry, previous: datetime | None) -> None:
        if previous is not None:
            seconds = (entry.occurred_at - previous).total_seconds()
            self._after_commit(partial(saga_metrics.step_ended, entry.event_type, seconds))

    async def entries(self, booking_id: uuid.UUID) -> list[JournalEntry]:
        rows = await self._sql.fetch_all(_ENTRIES, {"booking_id": booking_id})
        return [_entry(row) for row in rows]


def _param(name: str) -> Any:
    return bindparam(name, type_=saga_journal.c[name].type)


def _previous() -> ColumnElement[datetime]:
    """When the step before this one ended: the latest earlier event, else the booking."""
    earlier = (
        select(func.max(saga_journal.c.occurred_at))
        .where(saga_journal.c.booking_id == _param("booking_id"))
        .where(saga_journal.c.occurred_at < _param("occurred_at"))
        .scalar_subquery()
    )
    created = select(bookings.c.created_at).where(bookings.c.id == _param("booking_id"))
    return func.coalesce(earlier, created.scalar_subquery())


def _add_if_new() -> Query:
    """The inbox insert (as sagakit.postgres does it) and the journal insert, in one query."""
    inbox = messaging.inbox
    fresh = (
        postgresql.insert(inbox)
        .values(consumer=bindparam("consumer"))
        .values({name: _param(name) for name in ("event_id", "event_type")})
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
        .cte("fresh")
    )
    columns = [column.name for column in saga_journal.c]
    values = select(*(_param(name) for name in columns))
    journaled = insert(saga_journal).from_select(
        columns, values.where(exists(select(fresh.c.event_id)))
    )
    query = select(
        select(fresh.c.event_id).scalar_subquery().label("fresh"),
        _previous().label("previous"),
    ).add_cte(journaled.cte("journaled"))
    return Query(query)


# `_add_if_new` for many rows, given as one array per journal column. Its reads see the
# journal as it was before the statement (data-modifying CTEs are not visible to them).
_ADD_MANY_IF_NEW = Query(
    text(
        "WITH arrived AS (SELECT * FROM unnest(CAST(:event_id AS uuid[]),"
        " CAST(:booking_id AS uuid[]), CAST(:event_type AS varchar[]),"
        " CAST(:producer AS varchar[]), CAST(:occurred_at AS timestamptz[]),"
        " CAST(:recorded_at AS timestamptz[]), CAST(:trace_id AS varchar[]),"
        " CAST(:causation_id AS uuid[])) AS a(event_id, booking_id, event_type, producer,"
        " occurred_at, recorded_at, trace_id, causation_id)),"
        " fresh AS (INSERT INTO inbox (consumer, event_id, event_type)"
        " SELECT :consumer, event_id, event_type FROM arrived"
        " ON CONFLICT DO NOTHING RETURNING event_id),"
        " journaled AS (INSERT INTO saga_journal (event_id, booking_id, event_type, producer,"
        " occurred_at, recorded_at, trace_id, causation_id)"
        " SELECT * FROM arrived WHERE event_id IN (SELECT event_id FROM fresh))"
        " SELECT a.event_id, coalesce((SELECT max(j.occurred_at) FROM saga_journal j"
        " WHERE j.booking_id = a.booking_id AND j.occurred_at < a.occurred_at),"
        " (SELECT b.created_at FROM bookings b WHERE b.id = a.booking_id)) AS previous"
        " FROM arrived a WHERE a.event_id IN (SELECT event_id FROM fresh)"
    )
)


_INSERT = Query(insert(saga_journal).values({c.name: bindparam(c.name) for c in saga_journal.c}))
_PREVIOUS = Query(select(_previous()))
_ADD_IF_NEW = _add_if_new()
_ENTRIES = Query(
    select(saga_journal)
    .where(saga_journal.c.booking_id == bindparam("booking_id"))
    .order_by(saga_journal.c.occurred_at, saga_journal.c.recorded_at)
)


def _row(entry: JournalEntry) -> dict[str, Any]:
    # Shallow on purpose: dataclasses.asdict deep-copies every UUID and datetime.
    row = {field.name: getattr(entry, field.name) for field in fields(entry)}
    return {**row, "event_type": entry.event_type.value}


def _entry(row: dict[str, Any]) -> JournalEntry:
    return JournalEntry(**{**row, "event_type": EventType(row["event_type"])})
