"""The booking database schema (SQLAlchemy Core tables; migrations must match)."""

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
)

from sagakit.tables import idempotency_table, messaging_tables

metadata = MetaData()
messaging = messaging_tables(metadata)
idempotency_keys = idempotency_table(metadata)

bookings = Table(
    "bookings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("item", String(200), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_bookings_customer_id", "customer_id"),
    Index("ix_bookings_status", "status"),
)

saga_journal = Table(
    "saga_journal",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("booking_id", Uuid, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("producer", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("trace_id", String(32), nullable=True),
    Column("causation_id", Uuid, nullable=True),
    Index("ix_saga_journal_booking_id_occurred_at", "booking_id", "occurred_at"),
    Index("ix_saga_journal_recorded_at", "recorded_at"),  # retention finds old rows by age
)

# The reconciler's attempts per saga that stopped moving (booking.adapters.stuck).
saga_reconciles = Table(
    "saga_reconciles",
    metadata,
    Column("booking_id", Uuid, primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("next_at", DateTime(timezone=True), nullable=False),
)
