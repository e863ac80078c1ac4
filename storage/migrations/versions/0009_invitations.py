"""A task can have a deadline (an invitation's expiry) and remember when the bot last asked the platform about it.

Revision ID: 0009
Revises: 0008
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: copying the table, as a batch would, trips the foreign keys to it.
    op.add_column("manual_task", sa.Column("due_by", storage.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("manual_task", sa.Column("checked_at", storage.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manual_task", schema=None) as batch_op:
        batch_op.drop_column("checked_at")
        batch_op.drop_column("due_by")
