"""Read-only queries for the HTTP API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from booking.domain.model import Booking
from booking.domain.timeline import Timeline, timeline
from booking.service_layer.unit_of_work import BookingFilter, BookingUnitOfWork
from sagakit.errors import NotFound


async def booking(booking_id: uuid.UUID, uow: BookingUnitOfWork) -> Booking:
    """One booking; raises NotFound."""
    async with uow.reading():
        found = await uow.bookings.get(booking_id)
    if found is None:
        raise NotFound(f"booking {booking_id} not found")
    return found


async def bookings(
    where: BookingFilter, limit: int, offset: int, uow: BookingUnitOfWork
) -> tuple[list[Booking], int]:
    """A page of bookings, newest first, and how many match in total."""
    async with uow.reading():
        return await uow.bookings.find(where, limit, offset)


async def saga_timeline(booking_id: uuid.UUID, uow: BookingUnitOfWork) -> Timeline:
    """The journaled steps of a booking's saga and what it waits for; raises NotFound."""
    async with uow.reading():
        found = await uow.bookings.get(booking_id)
        entries = await uow.journal.entries(booking_id)
    if found is None:
        raise NotFound(f"booking {booking_id} not found")
    return timeline(found, entries, datetime.now(UTC))
