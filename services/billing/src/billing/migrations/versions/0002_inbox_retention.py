"""The inbox's index on processed_at, so the retention job finds old rows by age.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from sagakit.migrations import drop_inbox_age_index, index_inbox_by_age

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index_inbox_by_age()


def downgrade() -> None:
    drop_inbox_age_index()
