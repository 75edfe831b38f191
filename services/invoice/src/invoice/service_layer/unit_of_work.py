"""The ports the invoice handlers need: a repository inside a unit of work."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass

from invoice.domain.model import Invoice
from sagakit.uow import AbstractUnitOfWork


@dataclass(frozen=True)
class InvoiceFilter:
    """Which invoices a list shows."""

    customer_id: str | None = None


class AbstractInvoiceRepository(abc.ABC):
    """Invoices by booking id, and the sequence their numbers come from."""

    @abc.abstractmethod
    async def add(self, invoice: Invoice) -> None: ...

    @abc.abstractmethod
    async def get(self, booking_id: uuid.UUID) -> Invoice | None: ...

    @abc.abstractmethod
    async def next_number(self) -> int:
        """The next value of the invoice number sequence: distinct and increasing."""

    @abc.abstractmethod
    async def find(
        self, where: InvoiceFilter, limit: int, offset: int
    ) -> tuple[list[Invoice], int]: ...


class InvoiceUnitOfWork(AbstractUnitOfWork):
    """A transaction over the invoice database."""

    invoices: AbstractInvoiceRepository
