import uuid
from datetime import UTC, datetime
from decimal import Decimal

from invoice.domain.model import Invoice, InvoiceLine, invoice_number
from sagakit.events import InvoiceGenerated

PAID_AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def new_invoice(amount: Decimal = Decimal("120.00")) -> Invoice:
    return Invoice.generate(
        booking_id=uuid.uuid4(),
        number="INV-2026-000042",
        customer_id="alice",
        item="Room 101, 2 nights",
        amount=amount,
        paid_at=PAID_AT,
    )


def test_invoice_number_pads_the_sequence_to_six_digits() -> None:
    assert invoice_number(42, 2026) == "INV-2026-000042"
    assert invoice_number(1, 2027) == "INV-2027-000001"


def test_invoice_number_grows_past_six_digits_instead_of_wrapping() -> None:
    assert invoice_number(1_234_567, 2026) == "INV-2026-1234567"


def test_generate_builds_one_line_for_the_booked_item() -> None:
    invoice = new_invoice()
    assert invoice.lines == [
        InvoiceLine(
            description="Room 101, 2 nights",
            quantity=1,
            unit_price=Decimal("120.00"),
            amount=Decimal("120.00"),
        )
    ]
    assert invoice.total == Decimal("120.00")
    assert invoice.number == "INV-2026-000042"
    assert invoice.paid_at == PAID_AT
    assert invoice.issued_at >= PAID_AT


def test_generate_raises_invoice_generated_with_number_and_total() -> None:
    invoice = new_invoice()
    assert invoice.events == [
        InvoiceGenerated(
            booking_id=invoice.booking_id,
            invoice_id=invoice.id,
            invoice_number="INV-2026-000042",
            total=Decimal("120.00"),
        )
    ]


def test_amounts_are_kept_in_cents() -> None:
    invoice = new_invoice(Decimal("5"))
    assert str(invoice.total) == "5.00"
    assert str(invoice.lines[0].unit_price) == "5.00"


def test_total_is_the_sum_of_the_line_amounts() -> None:
    invoice = new_invoice(Decimal("19.99"))
    assert invoice.total == sum(line.amount for line in invoice.lines)
