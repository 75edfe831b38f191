"""The ports the payment handlers need: two repositories inside a unit of work."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass
from datetime import datetime

from payment.domain.model import Customer, Payment, PaymentStatus
from sagakit.uow import AbstractUnitOfWork


@dataclass(frozen=True)
class PaymentFilter:
    """Which payments a list shows."""

    status: PaymentStatus | None = None
    customer_id: str | None = None


class AbstractCustomerRepository(abc.ABC):
    """Customers by id; `for_update` locks the row until the transaction ends."""

    @abc.abstractmethod
    async def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None: ...

    @abc.abstractmethod
    async def save(self, customer: Customer) -> None:
        """Insert the customer, or overwrite the stored credit if it exists."""


class AbstractPaymentRepository(abc.ABC):
    """Payments by booking id; `for_update` locks the row until the transaction ends."""

    @abc.abstractmethod
    async def add(self, payment: Payment) -> bool:
        """Store a new payment request, unless its booking has one already: False then
        (nothing stored, the new payment's events dropped)."""

    @abc.abstractmethod
    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Payment | None: ...

    @abc.abstractmethod
    async def save(self, payment: Payment) -> None: ...

    @abc.abstractmethod
    async def due(self, now: datetime, limit: int) -> list[Payment]:
        """Up to `limit` payments awaiting payment past their deadline, locked; others skip them."""

    @abc.abstractmethod
    async def find(
        self, where: PaymentFilter, limit: int, offset: int
    ) -> tuple[list[Payment], int]: ...


class PaymentUnitOfWork(AbstractUnitOfWork):
    """A transaction over the payment database."""

    customers: AbstractCustomerRepository
    payments: AbstractPaymentRepository
