"""The billing HTTP API (read-only: bills are issued by events)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from billing.domain.model import BillStatus
from billing.entrypoints.schemas import BillPublic
from billing.service_layer import views
from billing.service_layer.unit_of_work import BillFilter, BillingUnitOfWork
from sagakit.api import CustomerId, Page, PageDep, problem, unit_of_work
from sagakit.authz import AccessDep

router = APIRouter(prefix="/bills", tags=["bills"])
UowDep = Annotated[BillingUnitOfWork, Depends(unit_of_work)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem("No bill for this booking (for a customer: none of its own)")
}


@router.get("/{booking_id}", response_model=BillPublic, responses=NOT_FOUND)
async def get_bill(booking_id: uuid.UUID, uow: UowDep, access: AccessDep) -> BillPublic:
    """The bill of one booking and its current status."""
    return BillPublic.of(await views.bill(booking_id, uow, access.owner))


@router.get("", response_model=Page[BillPublic])
async def list_bills(
    uow: UowDep,
    access: AccessDep,
    page: PageDep,
    status: Annotated[BillStatus | None, Query(description="Only this status.")] = None,
    customer_id: Annotated[CustomerId | None, Query(description="Only this customer.")] = None,
) -> Page[BillPublic]:
    """Bills, newest first, filtered by status and customer (a customer sees its own)."""
    where = BillFilter(status=status, customer_id=access.customers(customer_id))
    found, total = await views.bills(where, page.limit, page.offset, uow)
    items = [BillPublic.of(bill) for bill in found]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
