"""The saga journal: every event the booking service saw, for the timeline.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saga_journal",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("producer", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("causation_id", sa.Uuid(), nullable=True),
    )
    op.create_index(
        "ix_saga_journal_booking_id_occurred_at", "saga_journal", ["booking_id", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_table("saga_journal")
