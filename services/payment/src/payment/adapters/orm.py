"""The payment database schema (SQLAlchemy Core tables; migrations must match)."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
    text,
)

from sagakit.tables import idempotency_table, messaging_tables, saga_context_column

metadata = MetaData()
messaging = messaging_tables(metadata)
idempotency_keys = idempotency_table(metadata)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("credit", Numeric(12, 2), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The last line of defence: no bug or race can leave a customer in debt.
    CheckConstraint("credit >= 0", name="ck_customers_credit_not_negative"),
)

payments = Table(
    "payments",
    metadata,
    Column("booking_id", Uuid, primary_key=True, comment="one payment per booking"),
    Column("bill_id", Uuid, nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("item", String(200), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True, comment="the payment deadline"),
    saga_context_column(),
    Index("ix_payments_customer_id", "customer_id"),
    Index("ix_payments_status", "status"),
    # The deadline sweep's index: only the payments still awaiting, by due time.
    Index(
        "ix_payments_awaiting_expires_at",
        "expires_at",
        postgresql_where=text("status = 'awaiting_payment'"),
    ),
)
