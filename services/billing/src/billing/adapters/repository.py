"""Bills stored in Postgres.

The statements of the saga's path are compiled once, here (sagakit.sql); only the
list with its filters is built per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from billing.adapters.orm import bills
from billing.domain.model import Bill, BillStatus
from billing.service_layer.unit_of_work import AbstractBillRepository, BillFilter
from sagakit.sql import Sql, insert_new, select_by, update_by


class SqlBillRepository(AbstractBillRepository):
    """Reads and writes bills in the unit of work's transaction."""

    def __init__(self, sql: Sql, track: Callable[[Bill], None]) -> None:
        self._sql = sql
        self._track = track

    async def add(self, bill: Bill) -> bool:
        if await self._sql.fetch_one(_INSERT, _row(bill)) is None:
            return False  # the booking has its bill: this one is not tracked, never announced
        self._track(bill)
        return True

    async def get_by_booking(
        self, booking_id: uuid.UUID, *, for_update: bool = False
    ) -> Bill | None:
        query = _BY_BOOKING_FOR_UPDATE if for_update else _BY_BOOKING
        row = await self._sql.fetch_one(query, {"booking_id": booking_id})
        if row is None:
            return None
        bill = _bill(row)
        self._track(bill)
        return bill

    async def save(self, bill: Bill) -> None:
        values = {"status": bill.status.value, "reason": bill.reason}
        await self._sql.execute(_SAVE, {"id": bill.id, **values, "updated_at": bill.updated_at})
        self._track(bill)

    async def find(self, where: BillFilter, limit: int, offset: int) -> tuple[list[Bill], int]:
        conditions = []
        if where.status is not None:
            conditions.append(bills.c.status == where.status.value)
        if where.customer_id is not None:
            conditions.append(bills.c.customer_id == where.customer_id)
        query = select(bills).where(*conditions)
        total = await self._sql.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(bills.c.created_at.desc(), bills.c.id).limit(limit)
        rows = await self._sql.fetch_all(page.offset(offset))
        return [_bill(row) for row in rows], int(total or 0)


_INSERT = insert_new(bills)
_BY_BOOKING = select_by(bills, "booking_id")
_BY_BOOKING_FOR_UPDATE = select_by(bills, "booking_id", for_update=True)
_SAVE = update_by(bills, "id", ("status", "reason", "updated_at"))


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


def _bill(row: dict[str, Any]) -> Bill:
    return Bill(**{**row, "status": BillStatus(row["status"])})
