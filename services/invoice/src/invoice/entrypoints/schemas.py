"""HTTP response bodies of the invoice API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from invoice.domain.model import Invoice, InvoiceLine


class InvoiceLinePublic(BaseModel):
    """One line of an invoice; money is sent as a string."""

    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal

    @classmethod
    def of(cls, line: InvoiceLine) -> InvoiceLinePublic:
        """Copy a domain invoice line into the response shape."""
        return cls(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
        )


class InvoicePublic(BaseModel):
    """An invoice as the API shows it."""

    id: uuid.UUID
    booking_id: uuid.UUID
    number: str
    customer_id: str
    lines: list[InvoiceLinePublic]
    total: Decimal
    issued_at: datetime
    paid_at: datetime

    @classmethod
    def of(cls, invoice: Invoice) -> InvoicePublic:
        """Copy a domain invoice into the response shape."""
        return cls(
            id=invoice.id,
            booking_id=invoice.booking_id,
            number=invoice.number,
            customer_id=invoice.customer_id,
            lines=[InvoiceLinePublic.of(line) for line in invoice.lines],
            total=invoice.total,
            issued_at=invoice.issued_at,
            paid_at=invoice.paid_at,
        )
