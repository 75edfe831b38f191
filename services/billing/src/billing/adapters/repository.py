"""Bills stored in Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.adapters.orm import bills
from billing.domain.model import Bill, BillStatus
from billing.service_layer.unit_of_work import AbstractBillRepository, BillFilter


class SqlBillRepository(AbstractBillRepository):
    """Reads and writes bills on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection, track: Callable[[Bill], None]) -> None:
        self._conn = connection
        self._track = track

    async def add(self, bill: Bill) -> None:
        await self._conn.execute(insert(bills).values(**_row(bill)))
        self._track(bill)

    async def get_by_booking(
        self, booking_id: uuid.UUID, *, for_update: bool = False
    ) -> Bill | None:
        query = select(bills).where(bills.c.booking_id == booking_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        if row is None:
            return None
        bill = _bill(row)
        self._track(bill)
        return bill

    async def save(self, bill: Bill) -> None:
        await self._conn.execute(
            update(bills)
            .where(bills.c.id == bill.id)
            .values(status=bill.status.value, reason=bill.reason, updated_at=bill.updated_at)
        )
        self._track(bill)

    async def find(self, where: BillFilter, limit: int, offset: int) -> tuple[list[Bill], int]:
        conditions = []
        if where.status is not None:
            conditions.append(bills.c.status == where.status.value)
        if where.customer_id is not None:
            conditions.append(bills.c.customer_id == where.customer_id)
        query = select(bills).where(*conditions)
        total = await self._conn.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(bills.c.created_at.desc(), bills.c.id).limit(limit)
        rows = (await self._conn.execute(page.offset(offset))).mappings().all()
        return [_bill(row) for row in rows], int(total or 0)


def _row(bill: Bill) -> dict[str, Any]:
    return {
        "id": bill.id,
        "booking_id": bill.booking_id,
        "customer_id": bill.customer_id,
        "item": bill.item,
        "amount": bill.amount,
        "status": bill.status.value,
        "reason": bill.reason,
        "created_at": bill.created_at,
        "updated_at": bill.updated_at,
    }


def _bill(row: Any) -> Bill:
    return Bill(**{**row, "status": BillStatus(row["status"])})
