"""The ports the booking handlers need: repositories inside a unit of work."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass

from booking.domain.model import Booking, BookingStatus
from booking.domain.timeline import JournalEntry
from sagakit.uow import AbstractUnitOfWork


@dataclass(frozen=True)
class BookingFilter:
    """Which bookings a list shows."""

    status: BookingStatus | None = None
    customer_id: str | None = None


class AbstractBookingRepository(abc.ABC):
    """Bookings by id; `for_update` locks the row until the transaction ends."""

    @abc.abstractmethod
    async def add(self, booking: Booking) -> None: ...

    @abc.abstractmethod
    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Booking | None: ...

    @abc.abstractmethod
    async def save(self, booking: Booking) -> None: ...

    @abc.abstractmethod
    async def find(
        self, where: BookingFilter, limit: int, offset: int
    ) -> tuple[list[Booking], int]: ...


class AbstractJournalRepository(abc.ABC):
    """Every saga event the booking service saw, one entry per event."""

    @abc.abstractmethod
    async def add(self, entry: JournalEntry) -> None: ...

    @abc.abstractmethod
    async def entries(self, booking_id: uuid.UUID) -> list[JournalEntry]: ...


class BookingUnitOfWork(AbstractUnitOfWork):
    """A transaction over the booking database.

    Entering it for an incoming event also journals the event, in the same
    transaction as its inbox row: handled once, journaled once.
    """

    bookings: AbstractBookingRepository
    journal: AbstractJournalRepository
