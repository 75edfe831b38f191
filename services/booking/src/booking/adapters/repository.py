"""Bookings stored in Postgres.

The statements of the saga's path are compiled once, here (sagakit.sql); only the
list with its filters is built per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import func, select

from booking.adapters import saga_metrics
from booking.adapters.orm import bookings
from booking.domain.model import Booking, BookingStatus
from booking.service_layer.unit_of_work import AbstractBookingRepository, BookingFilter
from sagakit.sql import Sql, insert_row, select_by, update_by
from sagakit.tracing import trace_id


class SqlBookingRepository(AbstractBookingRepository):
    """Reads and writes bookings in the unit of work's transaction.

    Saving a booking in its final state observes the saga's outcome and
    duration once the transaction has committed.
    """

    def __init__(
        self,
        sql: Sql,
        track: Callable[[Booking], None],
        after_commit: Callable[[Callable[[], None]], None],
    ) -> None:
        self._sql = sql
        self._track = track
        self._after_commit = after_commit

    async def add(self, booking: Booking) -> None:
        await self._sql.execute(_INSERT, _row(booking))
        self._track(booking)

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Booking | None:
        query = _BY_ID_FOR_UPDATE if for_update else _BY_ID
        row = await self._sql.fetch_one(query, {"id": booking_id})
        if row is None:
            return None
        booking = _booking(row)
        self._track(booking)
        return booking

    async def save(self, booking: Booking) -> None:
        values = {"status": booking.status.value, "reason": booking.reason}
        await self._sql.execute(
            _SAVE, {"id": booking.id, **values, "updated_at": booking.updated_at}
        )
        self._track(booking)
        if booking.status.is_final:
            self._after_commit(_saga_ended(booking))

    async def find(
        self, where: BookingFilter, limit: int, offset: int
    ) -> tuple[list[Booking], int]:
        conditions = []
        if where.status is not None:
            conditions.append(bookings.c.status == where.status.value)
        if where.customer_id is not None:
            conditions.append(bookings.c.customer_id == where.customer_id)
        query = select(bookings).where(*conditions)
        total = await self._sql.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(bookings.c.created_at.desc(), bookings.c.id).limit(limit)
        rows = await self._sql.fetch_all(page.offset(offset))
        return [_booking(row) for row in rows], int(total or 0)


_INSERT = insert_row(bookings)
_BY_ID = select_by(bookings, "id")
_BY_ID_FOR_UPDATE = select_by(bookings, "id", for_update=True)
_SAVE = update_by(bookings, "id", ("status", "reason", "updated_at"))


def _saga_ended(booking: Booking) -> Callable[[], None]:
    # Tracked in a handler, the booking carries the trace context of the saga's message.
    seconds = (booking.updated_at - booking.created_at).total_seconds()
    return partial(saga_metrics.saga_ended, booking.status, seconds, trace_id(booking.saga_context))


def _row(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "customer_id": booking.customer_id,
        "item": booking.item,
        "amount": booking.amount,
        "status": booking.status.value,
        "reason": booking.reason,
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
    }


def _booking(row: dict[str, Any]) -> Booking:
    return Booking(**{**row, "status": BookingStatus(row["status"])})
