"""The invoice unit of work on Postgres."""

from invoice.adapters.repository import SqlInvoiceRepository
from invoice.service_layer.unit_of_work import InvoiceUnitOfWork
from sagakit.postgres import SqlUnitOfWork


class SqlInvoiceUnitOfWork(SqlUnitOfWork, InvoiceUnitOfWork):
    """Opens the invoice repository on the transaction's psycopg connection (sagakit.sql)."""

    def _open_repositories(self) -> None:
        self.invoices = SqlInvoiceRepository(self.sql, self.track)
