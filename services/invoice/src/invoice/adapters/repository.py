"""Invoices stored in Postgres.

The statements of the saga's path are compiled once, here (sagakit.sql); only the
list with its filters is built per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from invoice.adapters.orm import invoice_number_seq, invoices
from invoice.domain.model import Invoice, InvoiceLine
from invoice.service_layer.unit_of_work import AbstractInvoiceRepository, InvoiceFilter
from sagakit.sql import Query, Sql, insert_row, select_by


class SqlInvoiceRepository(AbstractInvoiceRepository):
    """Reads and writes invoices in the unit of work's transaction."""

    def __init__(self, sql: Sql, track: Callable[[Invoice], None]) -> None:
        self._sql = sql
        self._track = track

    async def add(self, invoice: Invoice) -> None:
        await self._sql.execute(_INSERT, _row(invoice))
        self._track(invoice)

    async def get(self, booking_id: uuid.UUID) -> Invoice | None:
        row = await self._sql.fetch_one(_BY_BOOKING, {"booking_id": booking_id})
        return None if row is None else _invoice(row)

    async def next_number(self) -> int:
        return int(await self._sql.scalar(_NEXT_NUMBER))

    async def find(
        self, where: InvoiceFilter, limit: int, offset: int
    ) -> tuple[list[Invoice], int]:
        conditions = []
        if where.customer_id is not None:
            conditions.append(invoices.c.customer_id == where.customer_id)
        query = select(invoices).where(*conditions)
        total = await self._sql.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(invoices.c.issued_at.desc(), invoices.c.id).limit(limit)
        rows = await self._sql.fetch_all(page.offset(offset))
        return [_invoice(row) for row in rows], int(total or 0)


_INSERT = insert_row(invoices)
_BY_BOOKING = select_by(invoices, "booking_id")
_NEXT_NUMBER = Query(select(invoice_number_seq.next_value()))


def _row(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "booking_id": invoice.booking_id,
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "lines": [_line_json(line) for line in invoice.lines],
        "total": invoice.total,
        "issued_at": invoice.issued_at,
        "paid_at": invoice.paid_at,
    }


def _line_json(line: InvoiceLine) -> dict[str, Any]:
    # Money goes into JSONB as strings: a JSON number would lose the cents' exactness.
    return {
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price),
        "amount": str(line.amount),
    }


def _invoice(row: dict[str, Any]) -> Invoice:
    lines = [
        InvoiceLine(
            description=line["description"],
            quantity=int(line["quantity"]),
            unit_price=Decimal(line["unit_price"]),
            amount=Decimal(line["amount"]),
        )
        for line in row["lines"]
    ]
    return Invoice(**{**row, "lines": lines})
