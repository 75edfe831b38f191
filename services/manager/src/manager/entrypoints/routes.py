"""The manager HTTP API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from manager.domain.commands import ApproveBooking, RejectBooking
from manager.domain.model import Approval, ApprovalStatus
from manager.entrypoints.schemas import ApprovalPublic, ApprovalReject
from manager.service_layer import handlers, views
from manager.service_layer.unit_of_work import ApprovalFilter, ManagerUnitOfWork
from sagakit.api import BODY_REFUSED, CustomerId, Page, PageDep, problem, unit_of_work
from sagakit.idempotency_api import IdempotencyDep, replayable
from sagakit.tracing import bound_to_booking

router = APIRouter(prefix="/approvals", tags=["approvals"])
UowDep = Annotated[ManagerUnitOfWork, Depends(unit_of_work)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: problem("No approval for this booking")}
DECIDED: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: problem("The booking was already decided the other way, or its approval timed out"),
    **replayable(200, "The decision, as it stands (or, replayed, as it was answered)"),
}


@router.get("/{booking_id}", response_model=ApprovalPublic, responses=NOT_FOUND)
async def get_approval(booking_id: uuid.UUID, uow: UowDep) -> ApprovalPublic:
    """The approval of one booking and the decision on it, if any."""
    return ApprovalPublic.of(await views.approval(booking_id, uow))


@router.get("", response_model=Page[ApprovalPublic])
async def list_approvals(
    uow: UowDep,
    page: PageDep,
    status: Annotated[ApprovalStatus | None, Query(description="Only this status.")] = None,
    customer_id: Annotated[CustomerId | None, Query(description="Only this customer.")] = None,
) -> Page[ApprovalPublic]:
    """Approvals, newest first, filtered by status and customer."""
    where = ApprovalFilter(status=status, customer_id=customer_id)
    found, total = await views.approvals(where, page.limit, page.offset, uow)
    items = [ApprovalPublic.of(approval) for approval in found]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/{booking_id}/approve", response_model=ApprovalPublic, responses=DECIDED)
async def approve_booking(
    booking_id: uuid.UUID, uow: UowDep, idempotency: IdempotencyDep
) -> ApprovalPublic:
    """Approve a pending booking (publishes APPROVED_BOOKING_EVENT); repeating it is harmless."""
    claim = idempotency.claim(Approval, ApprovalPublic.of)
    with bound_to_booking(str(booking_id)):
        command = ApproveBooking(booking_id=booking_id)
        approval = await handlers.approve_booking(command, uow.claiming(claim))
    return ApprovalPublic.of(approval)


@router.post(
    "/{booking_id}/reject", response_model=ApprovalPublic, responses={**DECIDED, **BODY_REFUSED}
)
async def reject_booking(
    booking_id: uuid.UUID,
    uow: UowDep,
    idempotency: IdempotencyDep,
    body: Annotated[ApprovalReject | None, Body()] = None,
) -> ApprovalPublic:
    """Reject a pending booking (publishes REJECTED_BOOKING_EVENT); the body is optional."""
    reason = (body or ApprovalReject()).reason
    claim = idempotency.claim(Approval, ApprovalPublic.of)
    with bound_to_booking(str(booking_id)):
        command = RejectBooking(booking_id, reason)
        approval = await handlers.reject_booking(command, uow.claiming(claim))
    return ApprovalPublic.of(approval)
