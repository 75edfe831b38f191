"""The booking unit of work on Postgres."""

import uuid
from datetime import UTC, datetime

from booking.adapters.journal import SqlJournalRepository
from booking.adapters.repository import SqlBookingRepository
from booking.domain.timeline import JournalEntry
from booking.service_layer.unit_of_work import BookingUnitOfWork
from sagakit.events import Envelope
from sagakit.postgres import SqlUnitOfWork
from sagakit.tracing import trace_id
from sagakit.uow import Arrival


class SqlBookingUnitOfWork(SqlUnitOfWork, BookingUnitOfWork):
    """Opens the booking repositories on the transaction's psycopg connection; journals
    incoming events."""

    journal: SqlJournalRepository

    def _open_repositories(self) -> None:
        self.bookings = SqlBookingRepository(self.sql, self.track, self.after_commit)
        self.journal = SqlJournalRepository(self.sql, self.after_commit)

    async def _record_inbox(self, consumer: str, envelope: Envelope) -> bool:
        # Journal exactly what the inbox accepts, in its transaction and in the same
        # statement: a duplicate is never journaled twice, and a handling that rolls back
        # leaves neither row.
        entry = JournalEntry.of(envelope, trace_id(self.trace_headers), datetime.now(UTC))
        return await self.journal.add_if_new(entry, consumer)

    async def _record_inbox_many(self, consumer: str, arrivals: list[Arrival]) -> set[uuid.UUID]:
        # A batch's events, journaled with the trace each arrived in (its handler
        # continues that trace), in one statement.
        now = datetime.now(UTC)
        entries = [
            JournalEntry.of(envelope, trace_id(headers), now) for envelope, headers in arrivals
        ]
        if len(entries) == 1:  # the arrays cost more than plain values for one row
            fresh = await self.journal.add_if_new(entries[0], consumer)
            return {entries[0].event_id} if fresh else set()
        return await self.journal.add_many_if_new(entries, consumer)
