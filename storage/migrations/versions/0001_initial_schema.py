"""The initial schema: requests, approvals, platform changes, elevations, manual tasks, the hash-chained audit
trail, access reviews and the sandbox platform's tables.

Revision ID: 0001
Revises: (none)
Created: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import storage.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verb", AutoString(), nullable=False),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("requester_id", AutoString(), nullable=False),
        sa.Column("requester_email", AutoString(), nullable=True),
        sa.Column("target_email", AutoString(), nullable=False),
        sa.Column("target_slack_id", AutoString(), nullable=True),
        sa.Column("reason", AutoString(), nullable=False),
        sa.Column("ticket", AutoString(), nullable=True),
        sa.Column("command_text", AutoString(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("until_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", AutoString(), nullable=True),
        sa.Column("decided_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deny_reason", AutoString(), nullable=True),
        sa.Column("card_channel", AutoString(), nullable=True),
        sa.Column("card_ts", AutoString(), nullable=True),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("remind_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_request_break_glass"), ["break_glass"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_request_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_request_remind_at"), ["remind_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_request_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_request_target_email"), ["target_email"], unique=False)

    op.create_table(
        "access_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", AutoString(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scheduled_for"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event", AutoString(), nullable=False),
        sa.Column("actor", AutoString(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("platform", AutoString(), nullable=True),
        sa.Column("target_email", AutoString(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", AutoString(), nullable=False),
        sa.Column("hash", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_request_id"), ["request_id"], unique=False)

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The chain starts from a head with no event and the all-zero hash (storage.audit.GENESIS).
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table(
        "bot_state",
        sa.Column("key", AutoString(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "manual_ledger",
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("email", AutoString(), nullable=False),
        sa.Column("field", AutoString(), nullable=False),
        sa.Column("value", AutoString(), nullable=False),
        sa.Column("recorded_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "email", "field"),
    )
    op.create_table(
        "sandbox_member",
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("email", AutoString(), nullable=False),
        sa.Column("account_role", AutoString(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_active", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("platform", "email"),
    )
    op.create_table(
        "sandbox_scope_role",
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("email", AutoString(), nullable=False),
        sa.Column("scope", AutoString(), nullable=False),
        sa.Column("role", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "email", "scope"),
    )
    op.create_table(
        "approval",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("approver_id", AutoString(), nullable=False),
        sa.Column("at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.PrimaryKeyConstraint("request_id", "approver_id"),
    )
    op.create_table(
        "platform_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("action", AutoString(), nullable=False),
        sa.Column("grant", sa.JSON(), nullable=True),
        sa.Column("method", AutoString(), nullable=True),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("access_at_request", sa.JSON(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("desired", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("elevation_id", sa.Integer(), nullable=True),
        sa.Column("manual_steps", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("responses", sa.JSON(), nullable=False),
        sa.Column("error", AutoString(), nullable=True),
        sa.Column("error_kind", AutoString(), nullable=True),
        sa.Column("applied_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("platform_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_change_platform"), ["platform"], unique=False)
        batch_op.create_index(batch_op.f("ix_platform_change_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_platform_change_status"), ["status"], unique=False)

    op.create_table(
        "review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("email", AutoString(), nullable=False),
        sa.Column("access", sa.JSON(), nullable=False),
        sa.Column("last_active", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("decision", AutoString(), nullable=True),
        sa.Column("decided_by", AutoString(), nullable=True),
        sa.Column("decided_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("message_channel", AutoString(), nullable=True),
        sa.Column("message_ts", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["access_review.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_item_review_id"), ["review_id"], unique=False)

    op.create_table(
        "manual_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("platform", AutoString(), nullable=True),
        sa.Column("target_email", AutoString(), nullable=False),
        sa.Column("kind", AutoString(), nullable=False),
        sa.Column("title", AutoString(), nullable=False),
        sa.Column("instructions", AutoString(), nullable=False),
        sa.Column("step", sa.JSON(), nullable=True),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("remind_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("done_by", AutoString(), nullable=True),
        sa.Column("done_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("evidence", AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["platform_change.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("manual_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_manual_task_remind_at"), ["remind_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_manual_task_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_manual_task_status"), ["status"], unique=False)

    op.create_table(
        "revert_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("target_email", AutoString(), nullable=False),
        sa.Column("revert_to", sa.JSON(), nullable=False),
        sa.Column("elevated_to", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("started_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.JSON(), nullable=False),
        sa.Column("next_remind_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("status", AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", AutoString(), nullable=True),
        sa.Column("escalated_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_token", AutoString(), nullable=True),
        sa.Column("claimed_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", AutoString(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["platform_change.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("revert_reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revert_reminder_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_revert_reminder_next_remind_at"), ["next_remind_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_revert_reminder_platform"), ["platform"], unique=False)
        batch_op.create_index(batch_op.f("ix_revert_reminder_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_revert_reminder_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_revert_reminder_target_email"), ["target_email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("revert_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revert_reminder_target_email"))
        batch_op.drop_index(batch_op.f("ix_revert_reminder_status"))
        batch_op.drop_index(batch_op.f("ix_revert_reminder_request_id"))
        batch_op.drop_index(batch_op.f("ix_revert_reminder_platform"))
        batch_op.drop_index(batch_op.f("ix_revert_reminder_next_remind_at"))
        batch_op.drop_index(batch_op.f("ix_revert_reminder_expires_at"))

    op.drop_table("revert_reminder")
    with op.batch_alter_table("manual_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manual_task_status"))
        batch_op.drop_index(batch_op.f("ix_manual_task_request_id"))
        batch_op.drop_index(batch_op.f("ix_manual_task_remind_at"))

    op.drop_table("manual_task")
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_item_review_id"))

    op.drop_table("review_item")
    with op.batch_alter_table("platform_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_platform_change_status"))
        batch_op.drop_index(batch_op.f("ix_platform_change_request_id"))
        batch_op.drop_index(batch_op.f("ix_platform_change_platform"))

    op.drop_table("platform_change")
    op.drop_table("approval")
    op.drop_table("sandbox_scope_role")
    op.drop_table("sandbox_member")
    op.drop_table("manual_ledger")
    op.drop_table("bot_state")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_request_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))

    op.drop_table("audit_event")
    op.drop_table("access_review")
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_request_target_email"))
        batch_op.drop_index(batch_op.f("ix_access_request_status"))
        batch_op.drop_index(batch_op.f("ix_access_request_remind_at"))
        batch_op.drop_index(batch_op.f("ix_access_request_expires_at"))
        batch_op.drop_index(batch_op.f("ix_access_request_break_glass"))

    op.drop_table("access_request")
