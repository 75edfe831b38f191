"""Read-only queries for the HTTP API."""

from __future__ import annotations

import uuid

from billing.domain.model import Bill
from billing.service_layer.unit_of_work import BillFilter, BillingUnitOfWork
from sagakit.errors import NotFound


async def bill(booking_id: uuid.UUID, uow: BillingUnitOfWork, owner: str | None = None) -> Bill:
    """The bill of one booking (only if `owner` is its customer, when given); raises NotFound."""
    async with uow.reading():
        found = await uow.bills.get_by_booking(booking_id)
    # Another customer's bill is answered like a missing one: its existence is not revealed.
    if found is None or (owner is not None and found.customer_id != owner):
        raise NotFound(f"no bill for booking {booking_id}")
    return found


async def bills(
    where: BillFilter, limit: int, offset: int, uow: BillingUnitOfWork
) -> tuple[list[Bill], int]:
    """A page of bills, newest first, and how many match in total."""
    async with uow.reading():
        return await uow.bills.find(where, limit, offset)
