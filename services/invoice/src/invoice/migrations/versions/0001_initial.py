"""Invoices, their number sequence, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from sagakit.migrations import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("invoice_number_seq")))
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column(
            "lines",
            postgresql.JSONB(),
            nullable=False,
            comment="[{description, quantity, unit_price, amount}]",
        ),
        sa.Column("total", sa.Numeric(12, 2), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("booking_id", name="uq_invoices_booking_id"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
    )
    op.create_index("ix_invoices_customer_id", "invoices", ["customer_id"])
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.drop_table("invoices")
    op.execute(sa.schema.DropSequence(sa.Sequence("invoice_number_seq")))
