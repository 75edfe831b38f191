"""In-memory fakes for the billing handlers."""

from __future__ import annotations

import uuid

import pytest

from billing.domain.model import Bill
from billing.service_layer.unit_of_work import (
    AbstractBillRepository,
    BillFilter,
    BillingUnitOfWork,
)
from sagakit.testing import FakeUnitOfWork


class FakeBillRepository(AbstractBillRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows: dict[uuid.UUID, Bill] = {}
        self._uow = uow

    async def add(self, bill: Bill) -> bool:
        if any(row.booking_id == bill.booking_id for row in self.rows.values()):
            bill.events.clear()
            return False
        self.rows[bill.id] = bill
        self._uow.track(bill)
        return True

    async def get_by_booking(
        self, booking_id: uuid.UUID, *, for_update: bool = False
    ) -> Bill | None:
        bill = next((b for b in self.rows.values() if b.booking_id == booking_id), None)
        if bill is not None:
            self._uow.track(bill)
        return bill

    async def save(self, bill: Bill) -> None:
        self.rows[bill.id] = bill

    async def find(self, where: BillFilter, limit: int, offset: int) -> tuple[list[Bill], int]:
        found = [
            b
            for b in self.rows.values()
            if where.status in (None, b.status) and where.customer_id in (None, b.customer_id)
        ]
        return found[offset : offset + limit], len(found)


class FakeBillingUnitOfWork(FakeUnitOfWork, BillingUnitOfWork):
    def __init__(self) -> None:
        super().__init__("billing")
        self.bills = FakeBillRepository(self)


@pytest.fixture
def uow() -> FakeBillingUnitOfWork:
    return FakeBillingUnitOfWork()
