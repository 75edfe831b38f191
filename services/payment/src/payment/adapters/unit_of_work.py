"""The payment unit of work on Postgres."""

from payment.adapters.repository import SqlCustomerRepository, SqlPaymentRepository
from payment.service_layer.unit_of_work import PaymentUnitOfWork
from sagakit.postgres import SqlUnitOfWork


class SqlPaymentUnitOfWork(SqlUnitOfWork, PaymentUnitOfWork):
    """Opens the customer and payment repositories on the transaction's psycopg connection."""

    def _open_repositories(self) -> None:
        self.customers = SqlCustomerRepository(self.sql, self.track)
        self.payments = SqlPaymentRepository(self.sql, self.track)
