"""Read-only queries for the HTTP API."""

from __future__ import annotations

import uuid

from invoice.domain.model import Invoice
from invoice.service_layer.unit_of_work import InvoiceFilter, InvoiceUnitOfWork
from sagakit.errors import NotFound


async def invoice(
    booking_id: uuid.UUID, uow: InvoiceUnitOfWork, owner: str | None = None
) -> Invoice:
    """The invoice of one booking (only if `owner` is its customer, when given); NotFound."""
    async with uow.reading():
        found = await uow.invoices.get(booking_id)
    # Another customer's invoice is answered like a missing one: its existence is not revealed.
    if found is None or (owner is not None and found.customer_id != owner):
        raise NotFound(f"no invoice for booking {booking_id}")
    return found


async def invoices(
    where: InvoiceFilter, limit: int, offset: int, uow: InvoiceUnitOfWork
) -> tuple[list[Invoice], int]:
    """A page of invoices, newest first, and how many match in total."""
    async with uow.reading():
        return await uow.invoices.find(where, limit, offset)
