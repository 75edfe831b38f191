"""Approvals stored in Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from manager.adapters.orm import approvals
from manager.domain.model import Approval, ApprovalStatus
from manager.service_layer.unit_of_work import AbstractApprovalRepository, ApprovalFilter


class SqlApprovalRepository(AbstractApprovalRepository):
    """Reads and writes approvals on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection, track: Callable[[Approval], None]) -> None:
        self._conn = connection
        self._track = track

    async def add(self, approval: Approval) -> None:
        self._track(approval)  # first: tracking stamps the saga's trace context
        await self._conn.execute(insert(approvals).values(**_row(approval)))

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Approval | None:
        query = select(approvals).where(approvals.c.booking_id == booking_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        if row is None:
            return None
        approval = _approval(row)
        self._track(approval)
        return approval

    async def save(self, approval: Approval) -> None:
        await self._conn.execute(
            update(approvals)
            .where(approvals.c.booking_id == approval.booking_id)
            .values(
                status=approval.status.value,
                reason=approval.reason,
                decided_at=approval.decided_at,
            )
        )
        self._track(approval)

    async def due(self, now: datetime, limit: int) -> list[Approval]:
        query = (
            select(approvals)
            .where(
                approvals.c.status == ApprovalStatus.PENDING.value,
                approvals.c.expires_at <= now,
            )
            .order_by(approvals.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._conn.execute(query)).mappings().all()
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
        total = await self._conn.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(approvals.c.created_at.desc(), approvals.c.booking_id).limit(limit)
        rows = (await self._conn.execute(page.offset(offset))).mappings().all()
        return [_approval(row) for row in rows], int(total or 0)


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


def _approval(row: Any) -> Approval:
    return Approval(**{**row, "status": ApprovalStatus(row["status"])})
