"""The grant ledger: accounts with their baseline and fenced claims, grants in place of revert reminders.

Every row of `revert_reminder` becomes a temporary grant with the same id (so `extend` changes keep pointing at it),
on an account whose baseline is what its oldest live elevation would have reverted to.

Revision ID: 0003
Revises: 0002
Created: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import storage.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What each old elevation status becomes.
STATES = {"active": "active", "reverting": "active", "reverted": "ended", "superseded": "ended"}


def upgrade() -> None:
    op.create_table(
        "platform_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("email", AutoString(), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=True),
        sa.Column("baseline_source", AutoString(), nullable=True),
        sa.Column("expected", sa.JSON(), nullable=True),
        sa.Column("plans", sa.JSON(), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("claimed_by", AutoString(), nullable=True),
        sa.Column("lease_until", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", AutoString(), nullable=True),
        sa.Column("escalated_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "email"),
    )
    with op.batch_alter_table("platform_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_account_claimed_by"), ["claimed_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_platform_account_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_platform_account_email"), ["email"], unique=False)

    op.create_table(
        "platform_claim",
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("claimed_by", AutoString(), nullable=True),
        sa.Column("lease_until", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("platform"),
    )
    grants = op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("platform", AutoString(), nullable=False),
        sa.Column("email", AutoString(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("state", AutoString(), nullable=False),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.Column("span_seconds", sa.Integer(), nullable=True),
        sa.Column("until_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("planned_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("remind_at", sa.JSON(), nullable=False),
        sa.Column("next_remind_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("answered_round", sa.Integer(), nullable=False),
        sa.Column("answer", AutoString(), nullable=True),
        sa.Column("answered_by", AutoString(), nullable=True),
        sa.Column("ended_at", storage.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", AutoString(), nullable=True),
        sa.Column("end_reason", AutoString(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["platform_account.id"]),
        sa.ForeignKeyConstraint(["change_id"], ["platform_change.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["access_request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("access_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_grant_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grant_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grant_ends_at"), ["ends_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grant_next_remind_at"), ["next_remind_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grant_platform"), ["platform"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grant_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grant_state"), ["state"], unique=False)

    # Renamed in place (no copy of the table, which SQLite's foreign keys from manual_task would refuse).
    with op.batch_alter_table("platform_change", schema=None, recreate="never") as batch_op:
        batch_op.alter_column("elevation_id", new_column_name="grant_id")
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("queued_at", storage.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_platform_change_account_id"), ["account_id"], unique=False)

    connection = op.get_bind()
    _move_elevations(connection, grants)
    # Changes a bot of the previous version was in the middle of applying: the new one queues them, and reconciling
    # their account finishes them from what the platform has.
    connection.execute(sa.text("UPDATE platform_change SET status = 'failed' WHERE status = 'applying'"))

    with op.batch_alter_table("revert_reminder", schema=None) as batch_op:
        for column in ("expires_at", "next_remind_at", "platform", "request_id", "status", "target_email"):
            batch_op.drop_index(batch_op.f(f"ix_revert_reminder_{column}"))
    op.drop_table("revert_reminder")


def _move_elevations(connection: sa.Connection, grants: sa.Table) -> None:
    rows = connection.execute(sa.text("SELECT * FROM revert_reminder ORDER BY id")).mappings().all()
    accounts: dict[tuple[str, str], dict[str, Any]] = {}
    now = datetime.now(UTC)
    for row in rows:
        key = (row["platform"], row["target_email"])
        live = row["status"] in ("active", "reverting")
        account = accounts.setdefault(key, {"seq": 0, "baseline": None, "expected": None, "due": None})
        if live and account["baseline"] is None:
            account["baseline"] = _json(row["revert_to"])  # the oldest live one knows what was there first
        if live:
            account["expected"] = _json(row["elevated_to"])
            expires = _time(row["expires_at"])
            account["due"] = expires if account["due"] is None else min(account["due"], expires)
        account["seq"] += 1
    ids: dict[tuple[str, str], int] = {}
    for (platform, email), account in accounts.items():
        result = connection.execute(
            sa.text(
                "INSERT INTO platform_account (platform, email, baseline, baseline_source, expected, plans, "
                "next_seq, fence, due_at, attempts, updated_at) VALUES (:platform, :email, :baseline, :source, "
                ":expected, '[]', :seq, 0, :due, 0, :now) RETURNING id"
            ).bindparams(
                sa.bindparam("baseline", type_=sa.JSON()),
                sa.bindparam("expected", type_=sa.JSON()),
                sa.bindparam("due", type_=storage.db.UTCDateTime(timezone=True)),
                sa.bindparam("now", type_=storage.db.UTCDateTime(timezone=True)),
            ),
            {
                "platform": platform,
                "email": email,
                "baseline": account["baseline"],
                "source": "first seen" if account["baseline"] is not None else None,
                "expected": account["expected"],
                "seq": account["seq"],
                "due": account["due"],
                "now": now,
            },
        )
        ids[(platform, email)] = result.scalar_one()
    seqs: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["platform"], row["target_email"])
        seq = seqs[key] = seqs.get(key, -1) + 1
        fields = _json(row["fields"]) or {}
        outcome = _json(row["outcome"]) or {}
        state = STATES.get(row["status"], "ended")
        connection.execute(
            grants.insert().values(
                id=row["id"],
                account_id=ids[key],
                platform=row["platform"],
                email=row["target_email"],
                request_id=row["request_id"],
                change_id=row["change_id"],
                seq=seq,
                parts={field: held.get("elevated") for field, held in fields.items()},
                before={field: held.get("before") for field, held in fields.items()},
                state=state,
                permanent=False,
                planned_at=_time(row["started_at"]),
                started_at=_time(row["started_at"]),
                ends_at=_time(row["expires_at"]),
                remind_at=_json(row["remind_at"]) or [],
                next_remind_at=_time(row["next_remind_at"]),
                reminders_sent=row["reminders_sent"],
                answered_round=0,
                ended_at=_time(row["ended_at"]),
                ended_by=row["ended_by"],
                end_reason=None if state != "ended" else "superseded" if row["status"] == "superseded" else "expired",
                outcome=outcome,
                updated_at=_time(row["updated_at"]),
            )
        )
    if connection.dialect.name == "postgresql" and rows:
        connection.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('access_grant', 'id'), (SELECT max(id) FROM access_grant))")
        )


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def downgrade() -> None:
    raise NotImplementedError(
        "0003 moved temporary elevations into the grant ledger; going back would lose it. Restore the backup taken "
        "before `accessbot db upgrade` instead."
    )
