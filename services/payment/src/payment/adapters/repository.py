"""Customers and payments stored in Postgres.

The statements of the saga's path and of the deadline sweep are compiled once, here
(sagakit.sql); only the list with its filters is built per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql

from payment.adapters.orm import customers, payments
from payment.domain.model import Customer, Payment, PaymentStatus
from payment.service_layer.unit_of_work import (
    AbstractCustomerRepository,
    AbstractPaymentRepository,
    PaymentFilter,
)
from sagakit.domain import Aggregate
from sagakit.sql import Query, Sql, due_for_update, insert_new, select_by, update_by


class SqlCustomerRepository(AbstractCustomerRepository):
    """Reads and writes customers in the unit of work's transaction."""

    def __init__(self, sql: Sql, track: Callable[[Aggregate], None]) -> None:
        self._sql = sql
        self._track = track

    async def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None:
        query = _CUSTOMER_FOR_UPDATE if for_update else _CUSTOMER
        row = await self._sql.fetch_one(query, {"customer_id": customer_id})
        if row is None:
            return None
        customer = Customer(**row)
        self._track(customer)
        return customer

    async def save(self, customer: Customer) -> None:
        # An upsert: two first-time "set credit" calls for one customer both succeed.
        values = {"credit": customer.credit, "updated_at": customer.updated_at}
        await self._sql.execute(_UPSERT_CUSTOMER, {"customer_id": customer.customer_id, **values})
        self._track(customer)


_CUSTOMER = Query(select(customers).where(customers.c.customer_id == bindparam("customer_id")))
_CUSTOMER_FOR_UPDATE = Query(
    select(customers).where(customers.c.customer_id == bindparam("customer_id")).with_for_update()
)
_UPSERT = postgresql.insert(customers).values(
    {name: bindparam(name) for name in ("customer_id", "credit", "updated_at")}
)
_UPSERT_CUSTOMER = Query(
    _UPSERT.on_conflict_do_update(
        index_elements=[customers.c.customer_id],
        set_={"credit": _UPSERT.excluded.credit, "updated_at": _UPSERT.excluded.updated_at},
    )
)


class SqlPaymentRepository(AbstractPaymentRepository):
    """Reads and writes payments in the unit of work's transaction."""

    def __init__(self, sql: Sql, track: Callable[[Aggregate], None]) -> None:
        self._sql = sql
        self._track = track

    async def add(self, payment: Payment) -> bool:
        self._track(payment)  # first: tracking stamps the saga's trace context
        if await self._sql.fetch_one(_INSERT_PAYMENT, _row(payment)) is None:
            payment.events.clear()  # the booking has its payment: nothing to announce
            return False
        return True

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        query = _PAYMENT_FOR_UPDATE if for_update else _PAYMENT
        row = await self._sql.fetch_one(query, {"booking_id": booking_id})
        if row is None:
            return None
        payment = _payment(row)
        self._track(payment)
        return payment

    async def save(self, payment: Payment) -> None:
        values = {"status": payment.status.value, "settled_at": payment.settled_at}
        await self._sql.execute(_SAVE_PAYMENT, {"booking_id": payment.booking_id, **values})
        self._track(payment)

    async def due(self, now: datetime, limit: int) -> list[Payment]:
        rows = await self._sql.fetch_all(_DUE, {"now": now, "limit": limit})
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
        total = await self._sql.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(payments.c.created_at.desc(), payments.c.booking_id).limit(limit)
        rows = await self._sql.fetch_all(page.offset(offset))
        return [_payment(row) for row in rows], int(total or 0)


_INSERT_PAYMENT = insert_new(payments)
_PAYMENT = select_by(payments, "booking_id")
_PAYMENT_FOR_UPDATE = select_by(payments, "booking_id", for_update=True)
_SAVE_PAYMENT = update_by(payments, "booking_id", ("status", "settled_at"))
# The deadline sweep: payments awaited past their deadline, which no other replica holds.
_DUE = due_for_update(payments, PaymentStatus.AWAITING_PAYMENT.value)


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


def _payment(row: dict[str, Any]) -> Payment:
    return Payment(**{**row, "status": PaymentStatus(row["status"])})
