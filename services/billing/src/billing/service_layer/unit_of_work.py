"""The ports the billing handlers need: a repository inside a unit of work."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass

from billing.domain.model import Bill, BillStatus
from sagakit.uow import AbstractUnitOfWork


@dataclass(frozen=True)
class BillFilter:
    """Which bills a list shows."""

    status: BillStatus | None = None
    customer_id: str | None = None


class AbstractBillRepository(abc.ABC):
    """Bills by booking id (one per booking); `for_update` locks the row until the end."""

    @abc.abstractmethod
    async def add(self, bill: Bill) -> bool:
        """Store a new bill, unless its booking has one already: False then (nothing
        stored, the new bill's events dropped)."""

    @abc.abstractmethod
    async def get_by_booking(
        self, booking_id: uuid.UUID, *, for_update: bool = False
    ) -> Bill | None: ...

    @abc.abstractmethod
    async def save(self, bill: Bill) -> None: ...

    @abc.abstractmethod
    async def find(self, where: BillFilter, limit: int, offset: int) -> tuple[list[Bill], int]: ...


class BillingUnitOfWork(AbstractUnitOfWork):
    """A transaction over the billing database."""

    bills: AbstractBillRepository
