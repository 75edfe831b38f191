"""Indexes by age for the retention job: the inbox's processed_at, the journal's recorded_at.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

from sagakit.migrations import drop_inbox_age_index, index_inbox_by_age

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_inbox_by_age()
    op.create_index("ix_saga_journal_recorded_at", "saga_journal", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_saga_journal_recorded_at", table_name="saga_journal")
    drop_inbox_age_index()
