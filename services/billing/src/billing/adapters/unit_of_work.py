"""The billing unit of work on Postgres."""

from billing.adapters.repository import SqlBillRepository
from billing.service_layer.unit_of_work import BillingUnitOfWork
from sagakit.postgres import SqlUnitOfWork


class SqlBillingUnitOfWork(SqlUnitOfWork, BillingUnitOfWork):
    """Opens the bill repository on the transaction's psycopg connection (sagakit.sql)."""

    def _open_repositories(self) -> None:
        self.bills = SqlBillRepository(self.sql, self.track)
