"""In-memory fakes for the booking handlers."""

from __future__ import annotations

import uuid

import pytest

from booking.domain.model import Booking
from booking.service_layer.unit_of_work import (
    AbstractBookingRepository,
    BookingFilter,
    BookingUnitOfWork,
)
from sagakit.testing import FakeUnitOfWork


class FakeBookingRepository(AbstractBookingRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows: dict[uuid.UUID, Booking] = {}
        self._uow = uow

    async def add(self, booking: Booking) -> None:
        self.rows[booking.id] = booking
        self._uow.track(booking)

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Booking | None:
        booking = self.rows.get(booking_id)
        if booking is not None:
            self._uow.track(booking)
        return booking

    async def save(self, booking: Booking) -> None:
        self.rows[booking.id] = booking

    async def find(
        self, where: BookingFilter, limit: int, offset: int
    ) -> tuple[list[Booking], int]:
        found = [
            b
            for b in self.rows.values()
            if where.status in (None, b.status) and where.customer_id in (None, b.customer_id)
        ]
        return found[offset : offset + limit], len(found)


class FakeBookingUnitOfWork(FakeUnitOfWork, BookingUnitOfWork):
    def __init__(self) -> None:
        super().__init__("booking")
        self.bookings = FakeBookingRepository(self)


@pytest.fixture
def uow() -> FakeBookingUnitOfWork:
    return FakeBookingUnitOfWork()
