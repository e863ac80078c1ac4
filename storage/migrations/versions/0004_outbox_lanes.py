"""The outbox's background lane: redraws that may wait behind everything else.

Revision ID: 0004
Revises: 0003
Created: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slack_outbox", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("lane", AutoString(), nullable=False, server_default="now"))
        batch_op.create_index(batch_op.f("ix_slack_outbox_lane"), ["lane"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_outbox_lane"))
        batch_op.drop_column("lane")
