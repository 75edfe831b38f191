"""The booking unit of work on Postgres."""

from sqlalchemy.ext.asyncio import AsyncConnection

from booking.adapters.repository import SqlBookingRepository
from booking.service_layer.unit_of_work import BookingUnitOfWork
from sagakit.postgres import SqlUnitOfWork


class SqlBookingUnitOfWork(SqlUnitOfWork, BookingUnitOfWork):
    """Opens the booking repository on the transaction's connection."""

    def _open_repositories(self, connection: AsyncConnection) -> None:
        self.bookings = SqlBookingRepository(connection, self.track)
