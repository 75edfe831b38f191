"""The billing database schema (SQLAlchemy Core tables; migrations must match)."""

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from sagakit.tables import messaging_tables

metadata = MetaData()
messaging = messaging_tables(metadata)

bills = Table(
    "bills",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("booking_id", Uuid, nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("item", String(200), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # One bill per booking, even when two approvals race past the handler's check.
    UniqueConstraint("booking_id", name="uq_bills_booking_id"),
    Index("ix_bills_customer_id", "customer_id"),
    Index("ix_bills_status", "status"),
)
