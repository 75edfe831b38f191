"""The invoice: what a paid booking is billed as, numbered once and never changed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sagakit.domain import Aggregate
from sagakit.events import CENT, InvoiceGenerated


def invoice_number(seq: int, year: int) -> str:
    """The human-readable number of the `seq`-th invoice, e.g. `INV-2026-000042`."""
    return f"INV-{year}-{seq:06d}"


@dataclass(frozen=True)
class InvoiceLine:
    """One billed item: quantity times unit price."""

    description: str
    quantity: int
    unit_price: Decimal
    amount: Decimal


@dataclass(kw_only=True)
class Invoice(Aggregate):
    """The invoice of one booking; there is never a second one for the same booking."""

    id: uuid.UUID
    booking_id: uuid.UUID
    number: str
    customer_id: str
    lines: list[InvoiceLine]
    total: Decimal
    issued_at: datetime
    paid_at: datetime

    @classmethod
    def generate(
        cls,
        booking_id: uuid.UUID,
        number: str,
        customer_id: str,
        item: str,
        amount: Decimal,
        paid_at: datetime,
    ) -> Invoice:
        """A one-line invoice for a paid booking; raises INVOICE_GENERATED_EVENT."""
        price = amount.quantize(CENT)  # events arrive in cents; plain Decimals may not
        lines = [InvoiceLine(description=item, quantity=1, unit_price=price, amount=price)]
        invoice = cls(
            id=uuid.uuid4(),
            booking_id=booking_id,
            number=number,
            customer_id=customer_id,
            lines=lines,
            total=sum((line.amount for line in lines), Decimal("0.00")),
            issued_at=datetime.now(UTC),
            paid_at=paid_at,
        )
        invoice.raise_event(
            InvoiceGenerated(
                booking_id=booking_id,
                invoice_id=invoice.id,
                invoice_number=number,
                total=invoice.total,
            )
        )
        return invoice
