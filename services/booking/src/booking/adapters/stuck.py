"""Which sagas stopped moving: the booking service's part of the reconciler.

A saga is stuck when its booking is not final and neither the booking nor its saga
journal (every event of the saga, whoever produced it) changed for
RECONCILE_AFTER_SECONDS. Each round takes at most `LIMIT` of them, oldest first, locked
with `FOR UPDATE SKIP LOCKED` so two replicas never ask about the same saga at once,
sends one request for them (sagakit.reconcile) inside the transaction, and counts the
attempt: a saga that stays stuck (a customer who does not pay is not an error) is asked
about again after the backoff, `after`, 2x, 4x ... An attempt count starts again when the
saga moved since the last attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.adapters.orm import bookings, saga_journal, saga_reconciles
from booking.domain.model import BookingStatus
from sagakit.reconcile import Backoff

LIMIT = 500
RUNNING = [status.value for status in BookingStatus if not status.is_final]


async def find_stuck(
    engine: AsyncEngine,
    backoff: Backoff,
    force: bool,
    send: Callable[[list[uuid.UUID]], Awaitable[int]],
) -> list[uuid.UUID]:
    """Lock the stuck sagas due for an attempt (all of them with `force`), send, count."""
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
        .where(bookings.c.status.in_(RUNNING))
        .where(activity < func.now() - backoff.after)
        .order_by(bookings.c.updated_at)
        .limit(LIMIT)
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
    async with engine.begin() as conn:
        rows = (await conn.execute(query)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        await send(ids)
        attempts = [
            1 if row.attempts is None or row.last_at < row.activity else row.attempts + 1
            for row in rows
        ]
        values = [
            {
                "booking_id": row.id,
                "attempts": count,
                "last_at": func.now(),
                "next_at": func.now() + backoff.next_in(count),
            }
            for row, count in zip(rows, attempts, strict=True)
        ]
        upsert = insert(saga_reconciles).values(values)  # one statement, one row each
        await conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["booking_id"],
                set_={key: upsert.excluded[key] for key in ("attempts", "last_at", "next_at")},
            )
        )
    return ids
