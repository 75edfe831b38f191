"""The manager unit of work on Postgres."""

from manager.adapters.repository import SqlApprovalRepository
from manager.service_layer.unit_of_work import ManagerUnitOfWork
from sagakit.postgres import SqlUnitOfWork


class SqlManagerUnitOfWork(SqlUnitOfWork, ManagerUnitOfWork):
    """Opens the approval repository on the transaction's psycopg connection (sagakit.sql)."""

    def _open_repositories(self) -> None:
        self.approvals = SqlApprovalRepository(self.sql, self.track)
