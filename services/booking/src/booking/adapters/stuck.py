"""Which sagas stopped moving: the booking service's part of the reconciler.

A saga is stuck when its booking is not final and neither the booking nor its saga
journal (every event of the saga, whoever produced it) changed for
RECONCILE_AFTER_SECONDS. Each round takes at most `LIMIT` of them, oldest first, locked
with `FOR UPDATE SKIP LOCKED` so two replicas never ask about the same saga at once,
sends one request for them (sagakit.reconcile) inside the transaction, and counts the
attempt: a saga that stays stuck (a customer who does not pay is not an error) is asked
about again after the backoff, `after`, 2x, 4x ... An attempt count starts again when the
saga moved since the last attempt. The statements are compiled once (sagakit.sql).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import Interval, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.adapters.orm import bookings, saga_journal, saga_reconciles
from booking.domain.model import BookingStatus
from sagakit.reconcile import Backoff
from sagakit.sql import Query
from sagakit.transactions import commit, open_connection, release

LIMIT = 500
RUNNING = [status.value for status in BookingStatus if not status.is_final]


async def find_stuck(
    engine: AsyncEngine,
    backoff: Backoff,
    force: bool,
    send: Callable[[list[uuid.UUID]], Awaitable[int]],
) -> list[uuid.UUID]:
    """Lock the stuck sagas due for an attempt (all of them with `force`), send, count."""
    connection, sql = await open_connection(engine)
    try:
        query = _STUCK if force else _STUCK_AND_DUE
        rows = await sql.fetch_all(query, {"after": backoff.after, "limit": LIMIT})
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        await send(ids)
        attempts = [
            1
            if row["attempts"] is None or row["last_at"] < row["activity"]
            else row["attempts"] + 1
            for row in rows
        ]
        counted = [
            {"booking_id": row["id"], "attempts": count, "next_in": backoff.next_in(count)}
            for row, count in zip(rows, attempts, strict=True)
        ]
        await sql.execute_many(_COUNT, counted)  # one round trip
        await commit(connection, sql)
    finally:
        await release(connection, sql)
    return ids


def _stuck(force: bool) -> Query:
    latest = (
        select(func.max(saga_journal.c.recorded_at))
        .where(saga_journal.c.booking_id == bookings.c.id)
        .scalar_subquery()
    )
    activity = func.greatest(bookings.c.updated_at, func.coalesce(latest, bookings.c.updated_at))
    tried = saga_reconciles
    query = (
        select(bookings.c.id, activity.label("activity"), tried.c.attempts, tried.c.last_at)
        .select_from(bookings.outerjoin(tried, tried.c.booking_id == bookings.c.id))
        # = ANY(ARRAY[..]), the same as IN (..) to the planner: an IN list is expanded at
        # compile time, which then wants a value for every bindparam().
        .where(bookings.c.status == any_(array(RUNNING)))
        .where(activity < func.now() - bindparam("after", type_=Interval))
        .order_by(bookings.c.updated_at)
        .limit(bindparam("limit"))
        .with_for_update(of=bookings, skip_locked=True)
    )
    if not force:  # due: never tried, its backoff is over, or it moved since
        query = query.where(
            or_(
                tried.c.booking_id.is_(None),
                tried.c.next_at <= func.now(),
                tried.c.last_at < activity,
            )
        )
    return Query(query)


def _count() -> Query:
    """One saga's attempt: inserted, or its row updated."""
    upsert = insert(saga_reconciles).values(
        booking_id=bindparam("booking_id"),
        attempts=bindparam("attempts"),
        last_at=func.now(),
        next_at=func.now() + bindparam("next_in", type_=Interval),
    )
    return Query(
        upsert.on_conflict_do_update(
            index_elements=["booking_id"],
            set_={key: upsert.excluded[key] for key in ("attempts", "last_at", "next_at")},
        )
    )


_STUCK = _stuck(force=True)
_STUCK_AND_DUE = _stuck(force=False)
_COUNT = _count()
