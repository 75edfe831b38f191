"""Customers and payments stored in Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payment.adapters.orm import customers, payments
from payment.domain.model import Customer, Payment, PaymentStatus
from payment.service_layer.unit_of_work import (
    AbstractCustomerRepository,
    AbstractPaymentRepository,
    PaymentFilter,
)
from sagakit.domain import Aggregate


class SqlCustomerRepository(AbstractCustomerRepository):
    """Reads and writes customers on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection, track: Callable[[Aggregate], None]) -> None:
        self._conn = connection
        self._track = track

    async def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None:
        query = select(customers).where(customers.c.customer_id == customer_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        if row is None:
            return None
        customer = Customer(**row)
        self._track(customer)
        return customer

    async def save(self, customer: Customer) -> None:
        # An upsert: two first-time "set credit" calls for one customer both succeed.
        values = {"credit": customer.credit, "updated_at": customer.updated_at}
        await self._conn.execute(
            _UPSERT_CUSTOMER.bindparams(customer_id=customer.customer_id, **values)
        )
        self._track(customer)


# Plain SQL on purpose: SQLAlchemy 2.0 cannot cache the compiled form of an
# `on_conflict_do_update()` statement, and this one runs for every top-up.
_UPSERT_CUSTOMER = text(
    "INSERT INTO customers (customer_id, credit, updated_at)"
    " VALUES (:customer_id, :credit, :updated_at)"
    " ON CONFLICT (customer_id) DO UPDATE"
    " SET credit = excluded.credit, updated_at = excluded.updated_at"
).bindparams(
    bindparam("credit", type_=customers.c.credit.type),
    bindparam("updated_at", type_=customers.c.updated_at.type),
)


class SqlPaymentRepository(AbstractPaymentRepository):
    """Reads and writes payments on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection, track: Callable[[Aggregate], None]) -> None:
        self._conn = connection
        self._track = track

    async def add(self, payment: Payment) -> None:
        self._track(payment)  # first: tracking stamps the saga's trace context
        await self._conn.execute(insert(payments).values(**_row(payment)))

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        query = select(payments).where(payments.c.booking_id == booking_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().one_or_none()
        if row is None:
            return None
        payment = _payment(row)
        self._track(payment)
        return payment

    async def save(self, payment: Payment) -> None:
        await self._conn.execute(
            update(payments)
            .where(payments.c.booking_id == payment.booking_id)
            .values(status=payment.status.value, settled_at=payment.settled_at)
        )
        self._track(payment)

    async def due(self, now: datetime, limit: int) -> list[Payment]:
        query = (
            select(payments)
            .where(
                payments.c.status == PaymentStatus.AWAITING_PAYMENT.value,
                payments.c.expires_at <= now,
            )
            .order_by(payments.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._conn.execute(query)).mappings().all()
        due = [_payment(row) for row in rows]
        for payment in due:
            self._track(payment)
        return due

    async def find(
        self, where: PaymentFilter, limit: int, offset: int
    ) -> tuple[list[Payment], int]:
        conditions = []
        if where.status is not None:
            conditions.append(payments.c.status == where.status.value)
        if where.customer_id is not None:
            conditions.append(payments.c.customer_id == where.customer_id)
        query = select(payments).where(*conditions)
        total = await self._conn.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(payments.c.created_at.desc(), payments.c.booking_id).limit(limit)
        rows = (await self._conn.execute(page.offset(offset))).mappings().all()
        return [_payment(row) for row in rows], int(total or 0)


def _row(payment: Payment) -> dict[str, Any]:
    return {
        "booking_id": payment.booking_id,
        "bill_id": payment.bill_id,
        "customer_id": payment.customer_id,
        "item": payment.item,
        "amount": payment.amount,
        "status": payment.status.value,
        "created_at": payment.created_at,
        "settled_at": payment.settled_at,
        "expires_at": payment.expires_at,
        "saga_context": payment.saga_context,
    }


def _payment(row: Any) -> Payment:
    return Payment(**{**row, "status": PaymentStatus(row["status"])})
