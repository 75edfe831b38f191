"""Published outbox rows are kept (marked with published_at), for the reconciler to resend.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from sagakit.migrations import delete_published_outbox_rows, keep_published_outbox_rows

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    keep_published_outbox_rows()


def downgrade() -> None:
    delete_published_outbox_rows()
