"""The invoice database schema (SQLAlchemy Core tables; migrations must match)."""

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    Numeric,
    Sequence,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

from sagakit.tables import messaging_tables

metadata = MetaData()
messaging = messaging_tables(metadata)

# Numbers are distinct and increasing, not gapless: a rolled-back transaction
# burns its value.
invoice_number_seq = Sequence("invoice_number_seq", metadata=metadata)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("booking_id", Uuid, nullable=False),
    Column("number", String(32), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("lines", JSONB, nullable=False, comment="[{description, quantity, unit_price, amount}]"),
    Column("total", Numeric(12, 2), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("booking_id", name="uq_invoices_booking_id"),
    UniqueConstraint("number", name="uq_invoices_number"),
    Index("ix_invoices_customer_id", "customer_id"),
)
