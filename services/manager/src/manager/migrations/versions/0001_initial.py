"""Approvals, outbox and inbox.

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
    op.create_table(
        "approvals",
        sa.Column("booking_id", sa.Uuid(), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "saga_context",
            postgresql.JSONB(),
            server_default="{}",
            nullable=False,
            comment="W3C trace context of the saga, continued by later HTTP commands",
        ),
    )
    op.create_index("ix_approvals_customer_id", "approvals", ["customer_id"])
    op.create_index("ix_approvals_status", "approvals", ["status"])
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.drop_table("approvals")
