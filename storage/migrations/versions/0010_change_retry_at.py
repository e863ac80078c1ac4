"""A change the platform asked to wait for (a long Retry-After) says when it is tried again.

Revision ID: 0010
Revises: 0009
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: copying the table, as a batch would, trips the foreign keys to it.
    op.add_column("platform_change", sa.Column("retry_at", storage.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform_change", schema=None) as batch_op:
        batch_op.drop_column("retry_at")
