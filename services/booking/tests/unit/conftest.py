"""In-memory fakes for the booking handlers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from booking.domain.model import Booking
from booking.domain.timeline import JournalEntry
from booking.service_layer.unit_of_work import (
    AbstractBookingRepository,
    AbstractJournalRepository,
    BookingFilter,
    BookingUnitOfWork,
)
from sagakit.domain import Aggregate
from sagakit.events import Envelope
from sagakit.testing import FakeUnitOfWork

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


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


class FakeJournalRepository(AbstractJournalRepository):
    def __init__(self) -> None:
        self.rows: list[JournalEntry] = []

    async def add(self, entry: JournalEntry) -> None:
        self.rows.append(entry)

    async def entries(self, booking_id: uuid.UUID) -> list[JournalEntry]:
        return [entry for entry in self.rows if entry.booking_id == booking_id]


class FakeBookingUnitOfWork(FakeUnitOfWork, BookingUnitOfWork):
    def __init__(self) -> None:
        super().__init__("booking")
        self.bookings = FakeBookingRepository(self)
        self.journal = FakeJournalRepository()
        self._journaled: JournalEntry | None = None

    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        # Like the SQL unit of work: the event is journaled when the inbox accepts it,
        # and the entry is kept only if the transaction commits.
        self._journaled = None
        if not await super()._record_inbox(consumer, envelope):
            return False
        self._journaled = JournalEntry.of(envelope, TRACE_ID, datetime.now(UTC))
        return True

    async def _commit(self, outgoing: list[tuple[Envelope, Aggregate]]) -> None:
        await super()._commit(outgoing)
        if self._journaled is not None:
            await self.journal.add(self._journaled)
            self._journaled = None


@pytest.fixture
def uow() -> FakeBookingUnitOfWork:
    return FakeBookingUnitOfWork()
