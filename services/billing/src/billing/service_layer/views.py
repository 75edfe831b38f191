"""Read-only queries for the HTTP API."""

from __future__ import annotations

import uuid

from billing.domain.model import Bill
from billing.service_layer.unit_of_work import BillFilter, BillingUnitOfWork
from sagakit.errors import NotFound


async def bill(booking_id: uuid.UUID, uow: BillingUnitOfWork) -> Bill:
    """The bill of one booking; raises NotFound."""
    async with uow.reading():
        found = await uow.bills.get_by_booking(booking_id)
    if found is None:
        raise NotFound(f"no bill for booking {booking_id}")
    return found


async def bills(
    where: BillFilter, limit: int, offset: int, uow: BillingUnitOfWork
) -> tuple[list[Bill], int]:
    """A page of bills, newest first, and how many match in total."""
    async with uow.reading():
        return await uow.bills.find(where, limit, offset)
