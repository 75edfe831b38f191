"""Read-only queries for the HTTP API."""

from __future__ import annotations

import uuid

from manager.domain.model import Approval
from manager.service_layer.unit_of_work import ApprovalFilter, ManagerUnitOfWork
from sagakit.errors import NotFound


async def approval(booking_id: uuid.UUID, uow: ManagerUnitOfWork) -> Approval:
    """The approval of one booking; raises NotFound."""
    async with uow.reading():
        found = await uow.approvals.get(booking_id)
    if found is None:
        raise NotFound(f"no approval for booking {booking_id}")
    return found


async def approvals(
    where: ApprovalFilter, limit: int, offset: int, uow: ManagerUnitOfWork
) -> tuple[list[Approval], int]:
    """A page of approvals, newest first, and how many match in total."""
    async with uow.reading():
        return await uow.approvals.find(where, limit, offset)
