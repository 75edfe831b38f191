"""Bookings stored in Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from booking.adapters import saga_metrics
from booking.adapters.orm import bookings
from booking.domain.model import Booking, BookingStatus
from booking.service_layer.unit_of_work import AbstractBookingRepository, BookingFilter
from sagakit.tracing import trace_id


class SqlBookingRepository(AbstractBookingRepository):
    """Reads and writes bookings on the unit of work's connection.

    Saving a booking in its final state observes the saga's outcome and
    duration once the transaction has committed.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        track: Callable[[Booking], None],
        after_commit: Callable[[Callable[[], None]], None],
    ) -> None:
        self._conn = connection
        self._track = track
        self._after_commit = after_commit

    async def add(self, booking: Booking) -> None:
        await self._conn.execute(insert(bookings).values(**_row(booking)))
        self._track(booking)

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Booking | None:
        query = select(bookings).where(bookings.c.id == booking_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        if row is None:
            return None
        booking = _booking(row)
        self._track(booking)
        return booking

    async def save(self, booking: Booking) -> None:
        await self._conn.execute(
            update(bookings)
            .where(bookings.c.id == booking.id)
            .values(
                status=booking.status.value, reason=booking.reason, updated_at=booking.updated_at
            )
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
        total = await self._conn.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(bookings.c.created_at.desc(), bookings.c.id).limit(limit)
        rows = (await self._conn.execute(page.offset(offset))).mappings().all()
        return [_booking(row) for row in rows], int(total or 0)


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


def _booking(row: Any) -> Booking:
    return Booking(**{**row, "status": BookingStatus(row["status"])})
