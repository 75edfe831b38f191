"""Approvals stored in Postgres.

The statements of the saga's path and of the deadline sweep are compiled once, here
(sagakit.sql); only the list with its filters is built per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from manager.adapters.orm import approvals
from manager.domain.model import Approval, ApprovalStatus
from manager.service_layer.unit_of_work import AbstractApprovalRepository, ApprovalFilter
from sagakit.sql import Sql, due_for_update, insert_new, select_by, update_by


class SqlApprovalRepository(AbstractApprovalRepository):
    """Reads and writes approvals in the unit of work's transaction."""

    def __init__(self, sql: Sql, track: Callable[[Approval], None]) -> None:
        self._sql = sql
        self._track = track

    async def add(self, approval: Approval) -> bool:
        self._track(approval)  # first: tracking stamps the saga's trace context
        if await self._sql.fetch_one(_INSERT, _row(approval)) is None:
            approval.events.clear()  # the booking has its approval: nothing to announce
            return False
        return True

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Approval | None:
        query = _BY_BOOKING_FOR_UPDATE if for_update else _BY_BOOKING
        row = await self._sql.fetch_one(query, {"booking_id": booking_id})
        if row is None:
            return None
        approval = _approval(row)
        self._track(approval)
        return approval

    async def save(self, approval: Approval) -> None:
        values = {"status": approval.status.value, "reason": approval.reason}
        await self._sql.execute(
            _SAVE, {"booking_id": approval.booking_id, **values, "decided_at": approval.decided_at}
        )
        self._track(approval)

    async def due(self, now: datetime, limit: int) -> list[Approval]:
        rows = await self._sql.fetch_all(_DUE, {"now": now, "limit": limit})
        due = [_approval(row) for row in rows]
        for approval in due:
            self._track(approval)
        return due

    async def find(
        self, where: ApprovalFilter, limit: int, offset: int
    ) -> tuple[list[Approval], int]:
        conditions = []
        if where.status is not None:
            conditions.append(approvals.c.status == where.status.value)
        if where.customer_id is not None:
            conditions.append(approvals.c.customer_id == where.customer_id)
        query = select(approvals).where(*conditions)
        total = await self._sql.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(approvals.c.created_at.desc(), approvals.c.booking_id).limit(limit)
        rows = await self._sql.fetch_all(page.offset(offset))
        return [_approval(row) for row in rows], int(total or 0)


_INSERT = insert_new(approvals)
_BY_BOOKING = select_by(approvals, "booking_id")
_BY_BOOKING_FOR_UPDATE = select_by(approvals, "booking_id", for_update=True)
_SAVE = update_by(approvals, "booking_id", ("status", "reason", "decided_at"))
# The deadline sweep: pending approvals past their deadline, which no other replica holds.
_DUE = due_for_update(approvals, ApprovalStatus.PENDING.value)


def _row(approval: Approval) -> dict[str, Any]:
    return {
        "booking_id": approval.booking_id,
        "customer_id": approval.customer_id,
        "item": approval.item,
        "amount": approval.amount,
        "status": approval.status.value,
        "reason": approval.reason,
        "created_at": approval.created_at,
        "decided_at": approval.decided_at,
        "expires_at": approval.expires_at,
        "saga_context": approval.saga_context,
    }


def _approval(row: dict[str, Any]) -> Approval:
    return Approval(**{**row, "status": ApprovalStatus(row["status"])})
