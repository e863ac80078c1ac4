"""The requests Slack delivered in the last hour, so that a replay or a retry is not processed twice.

Revision ID: 0006
Revises: 0005
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import storage.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_delivery",
        sa.Column("key", AutoString(), nullable=False),
        sa.Column("seen_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("slack_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_delivery_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_delivery_seen_at"))
    op.drop_table("slack_delivery")
