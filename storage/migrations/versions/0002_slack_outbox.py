"""The Slack outbox: Web API calls kept while Slack is unreachable, delivered when it is back.

Revision ID: 0002
Revises: 0001
Created: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import storage.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method", AutoString(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("coalesce_key", AutoString(), nullable=True),
        sa.Column("card_for_request", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", AutoString(), nullable=True),
        sa.Column("claim_token", AutoString(), nullable=True),
        sa.Column("claimed_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slack_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_outbox_coalesce_key"), ["coalesce_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_slack_outbox_next_attempt_at"), ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_slack_outbox_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_slack_outbox_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_slack_outbox_coalesce_key"))

    op.drop_table("slack_outbox")
