"""The keys of idempotent commands and their answers (the Idempotency-Key header).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from sagakit.migrations import create_idempotency_table, drop_idempotency_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table()


def downgrade() -> None:
    drop_idempotency_table()
