"""The invoice HTTP API (read-only: invoices are generated from events)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from invoice.entrypoints.schemas import InvoicePublic
from invoice.service_layer import views
from invoice.service_layer.unit_of_work import InvoiceFilter, InvoiceUnitOfWork
from sagakit.api import CustomerId, Page, PageDep, problem, unit_of_work
from sagakit.authz import AccessDep

router = APIRouter(prefix="/invoices", tags=["invoices"])
UowDep = Annotated[InvoiceUnitOfWork, Depends(unit_of_work)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem("No invoice for this booking (for a customer: none of its own)")
}


@router.get("/{booking_id}", response_model=InvoicePublic, responses=NOT_FOUND)
async def get_invoice(booking_id: uuid.UUID, uow: UowDep, access: AccessDep) -> InvoicePublic:
    """The invoice of one booking, once the booking is paid."""
    return InvoicePublic.of(await views.invoice(booking_id, uow, access.owner))


@router.get("", response_model=Page[InvoicePublic])
async def list_invoices(
    uow: UowDep,
    access: AccessDep,
    page: PageDep,
    customer_id: Annotated[CustomerId | None, Query(description="Only this customer.")] = None,
) -> Page[InvoicePublic]:
    """Invoices, newest first, filtered by customer (a customer sees its own)."""
    where = InvoiceFilter(customer_id=access.customers(customer_id))
    found, total = await views.invoices(where, page.limit, page.offset, uow)
    items = [InvoicePublic.of(invoice) for invoice in found]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
