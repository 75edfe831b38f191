"""The booking saga's metrics: outcomes and step times observed after commit, running sagas sampled.

The metric objects live in `sagakit.metrics`; this module only decides what to
observe. The repositories register `saga_ended` and `step_ended` with the unit
of work's `after_commit`, so a rolled-back transaction observes nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.adapters.orm import bookings
from booking.domain.model import BookingStatus
from sagakit import metrics
from sagakit.events import EventType
from sagakit.sql import Query
from sagakit.transactions import open_connection, release

SERVICE = "booking"
RUNNING = tuple(status for status in BookingStatus if not status.is_final)


def saga_ended(outcome: BookingStatus, seconds: float, trace_id: str | None) -> None:
    """Count a saga that reached its final state and time it (exemplar: its trace id)."""
    metrics.SAGA_OUTCOMES.labels(SERVICE, outcome.value).inc()
    exemplar = {"trace_id": trace_id} if trace_id else None
    metrics.SAGA_DURATION.labels(SERVICE, outcome.value).observe(seconds, exemplar=exemplar)


def step_ended(event_type: EventType, seconds: float) -> None:
    """Time one step: from the previous saga event (or the booking's creation) to this one."""
    metrics.SAGA_STEP_DURATION.labels(SERVICE, event_type.value).observe(max(seconds, 0.0))


async def sample_running_sagas(engine: AsyncEngine) -> None:
    """Bookings not final yet, by status, and the age of the oldest one, in one query."""
    connection, sql = await open_connection(engine)
    try:
        rows = await sql.fetch_all(_RUNNING_SAGAS)
    finally:
        await release(connection, sql)
    counts = dict.fromkeys(RUNNING, 0)
    oldest = 0.0
    for row in rows:
        counts[BookingStatus(row["status"])] = int(row["count"])
        oldest = max(oldest, float(row["age"] or 0))
    for status, count in counts.items():
        metrics.SAGAS_RUNNING.labels(SERVICE, status.value).set(count)
    metrics.OLDEST_RUNNING_SAGA.labels(SERVICE).set(oldest)


_AGE = func.extract("epoch", func.now() - func.min(bookings.c.created_at))
_RUNNING_SAGAS = Query(
    select(bookings.c.status, func.count().label("count"), _AGE.label("age"))
    .where(bookings.c.status.in_([status.value for status in RUNNING]))
    .group_by(bookings.c.status)
)
