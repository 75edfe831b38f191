"""In-memory fakes for the payment handlers."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from payment.domain.model import Customer, Payment
from payment.service_layer.unit_of_work import (
    AbstractCustomerRepository,
    AbstractPaymentRepository,
    PaymentFilter,
    PaymentUnitOfWork,
)
from sagakit.testing import FakeUnitOfWork


class FakeCustomerRepository(AbstractCustomerRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows: dict[str, Customer] = {}
        self._uow = uow

    async def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None:
        customer = self.rows.get(customer_id)
        if customer is not None:
            self._uow.track(customer)
        return customer

    async def save(self, customer: Customer) -> None:
        self.rows[customer.customer_id] = customer
        self._uow.track(customer)


class FakePaymentRepository(AbstractPaymentRepository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.rows: dict[uuid.UUID, Payment] = {}
        self._uow = uow

    async def add(self, payment: Payment) -> bool:
        if any(row.booking_id == payment.booking_id for row in self.rows.values()):
            payment.events.clear()
            return False
        self.rows[payment.booking_id] = payment
        self._uow.track(payment)
        return True

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        payment = self.rows.get(booking_id)
        if payment is not None:
            self._uow.track(payment)
        return payment

    async def save(self, payment: Payment) -> None:
        self.rows[payment.booking_id] = payment

    async def due(self, now: datetime, limit: int) -> list[Payment]:
        due = [p for p in self.rows.values() if p.is_due(now)][:limit]
        for payment in due:
            self._uow.track(payment)
        return due

    async def find(
        self, where: PaymentFilter, limit: int, offset: int
    ) -> tuple[list[Payment], int]:
        found = [
            p
            for p in self.rows.values()
            if where.status in (None, p.status) and where.customer_id in (None, p.customer_id)
        ]
        return found[offset : offset + limit], len(found)


class FakePaymentUnitOfWork(FakeUnitOfWork, PaymentUnitOfWork):
    def __init__(self) -> None:
        super().__init__("payment")
        self.customers = FakeCustomerRepository(self)
        self.payments = FakePaymentRepository(self)


@pytest.fixture
def uow() -> FakePaymentUnitOfWork:
    return FakePaymentUnitOfWork()
