"""Approval deadlines: `approvals.expires_at` and the sweep's partial index.

Approvals still pending when this runs get the default deadline (a day after they were
requested, APPROVAL_TIMEOUT_SECONDS' default); decided ones keep NULL (never due).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "approvals",
        sa.Column(
            "expires_at", sa.DateTime(timezone=True), nullable=True, comment="the approval deadline"
        ),
    )
    op.execute(
        "UPDATE approvals SET expires_at = created_at + interval '86400 seconds'"
        " WHERE status = 'pending'"
    )
    op.create_index(
        "ix_approvals_pending_expires_at",
        "approvals",
        ["expires_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_approvals_pending_expires_at", table_name="approvals")
    op.drop_column("approvals", "expires_at")
