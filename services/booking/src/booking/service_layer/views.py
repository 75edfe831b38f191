"""Read-only queries for the HTTP API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from booking.domain.model import Booking
from booking.domain.timeline import Timeline, timeline
from booking.service_layer.unit_of_work import BookingFilter, BookingUnitOfWork
from sagakit.errors import NotFound


async def booking(
    booking_id: uuid.UUID, uow: BookingUnitOfWork, owner: str | None = None
) -> Booking:
    """One booking (only if `owner` is its customer, when given); raises NotFound."""
    async with uow.reading():
        found = await uow.bookings.get(booking_id)
    return _visible(booking_id, found, owner)


async def bookings(
    where: BookingFilter, limit: int, offset: int, uow: BookingUnitOfWork
) -> tuple[list[Booking], int]:
    """A page of bookings, newest first, and how many match in total."""
    async with uow.reading():
        return await uow.bookings.find(where, limit, offset)


async def saga_timeline(
    booking_id: uuid.UUID, uow: BookingUnitOfWork, owner: str | None = None
) -> Timeline:
    """The journaled steps of a booking's saga and what it waits for; raises NotFound."""
    async with uow.reading():
        found = await uow.bookings.get(booking_id)
        entries = await uow.journal.entries(booking_id)
    return timeline(_visible(booking_id, found, owner), entries, datetime.now(UTC))


def _visible(booking_id: uuid.UUID, found: Booking | None, owner: str | None) -> Booking:
    # Another customer's booking is answered exactly like a missing one: its existence
    # is not revealed.
    if found is None or (owner is not None and found.customer_id != owner):
        raise NotFound(f"booking {booking_id} not found")
    return found
