"""In-memory fakes for the invoice handlers."""

from __future__ import annotations

import uuid

import pytest

from invoice.domain.model import Invoice
from invoice.service_layer.unit_of_work import (
    AbstractInvoiceRepository,
    InvoiceFilter,
    InvoiceUnitOfWork,
)
from sagakit.testing import FakeUnitOfWork


class FakeInvoiceRepository(AbstractInvoiceRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows: dict[uuid.UUID, Invoice] = {}
        self.last_number = 0
        self._uow = uow

    async def add(self, invoice: Invoice) -> None:
        self.rows[invoice.booking_id] = invoice
        self._uow.track(invoice)

    async def get(self, booking_id: uuid.UUID) -> Invoice | None:
        return self.rows.get(booking_id)

    async def next_number(self) -> int:
        self.last_number += 1
        return self.last_number

    async def find(
        self, where: InvoiceFilter, limit: int, offset: int
    ) -> tuple[list[Invoice], int]:
        found = [i for i in self.rows.values() if where.customer_id in (None, i.customer_id)]
        found.sort(key=lambda invoice: invoice.issued_at, reverse=True)
        return found[offset : offset + limit], len(found)


class FakeInvoiceUnitOfWork(FakeUnitOfWork, InvoiceUnitOfWork):
    def __init__(self) -> None:
        super().__init__("invoice")
        self.invoices = FakeInvoiceRepository(self)


@pytest.fixture
def uow() -> FakeInvoiceUnitOfWork:
    return FakeInvoiceUnitOfWork()
