"""The manager database schema (SQLAlchemy Core tables; migrations must match)."""

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    text,
)

from sagakit.tables import idempotency_table, messaging_tables, saga_context_column

metadata = MetaData()
messaging = messaging_tables(metadata)
idempotency_keys = idempotency_table(metadata)

approvals = Table(
    "approvals",
    metadata,
    Column("booking_id", Uuid, primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("item", String(200), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True, comment="the approval deadline"),
    saga_context_column(),
    Index("ix_approvals_customer_id", "customer_id"),
    Index("ix_approvals_status", "status"),
    # The deadline sweep's index: only the approvals still pending, by due time.
    Index(
        "ix_approvals_pending_expires_at",
        "expires_at",
        postgresql_where=text("status = 'pending'"),
    ),
)
