"""Payment deadlines: `payments.expires_at` and the sweep's partial index.

Payments still awaiting when this runs get the default deadline (15 minutes after they
were opened, PAYMENT_TIMEOUT_SECONDS' default), so a saga stuck before the upgrade ends
too; settled ones keep NULL (never due).

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
        "payments",
        sa.Column(
            "expires_at", sa.DateTime(timezone=True), nullable=True, comment="the payment deadline"
        ),
    )
    op.execute(
        "UPDATE payments SET expires_at = created_at + interval '900 seconds'"
        " WHERE status = 'awaiting_payment'"
    )
    op.create_index(
        "ix_payments_awaiting_expires_at",
        "payments",
        ["expires_at"],
        postgresql_where=sa.text("status = 'awaiting_payment'"),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_awaiting_expires_at", table_name="payments")
    op.drop_column("payments", "expires_at")
