"""Queries and commands on elevations (RevertReminder rows). Every claim is a conditional UPDATE."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain.elevation import LIVE_STATUSES, ElevationStatus
from storage.models import RevertReminder


def add_elevation(*, session: Session, elevation: RevertReminder) -> RevertReminder:
    session.add(elevation)
    session.flush()
    return elevation


def get_elevation(*, session: Session, elevation_id: int) -> RevertReminder | None:
    return session.get(RevertReminder, elevation_id)


def live_elevations(
    *, session: Session, platform: str | None = None, target_email: str | None = None
) -> list[RevertReminder]:
    statement = select(RevertReminder).where(col(RevertReminder.status).in_([s.value for s in LIVE_STATUSES]))
    if platform is not None:
        statement = statement.where(RevertReminder.platform == platform)
    if target_email is not None:
        statement = statement.where(RevertReminder.target_email == target_email)
    return list(session.exec(statement.order_by(col(RevertReminder.expires_at))))


def elevations_for(*, session: Session, request_ids: list[int], elevation_ids: list[int]) -> dict[int, RevertReminder]:
    """The elevations these requests started, and those named by id (what `extend` changes refer to)."""
    if not request_ids and not elevation_ids:
        return {}
    statement = select(RevertReminder).where(
        or_(col(RevertReminder.request_id).in_(request_ids), col(RevertReminder.id).in_(elevation_ids))
    )
    return {row.id: row for row in session.exec(statement.order_by(col(RevertReminder.id))) if row.id is not None}


def _revert_claimable(now: datetime, lease: timedelta) -> Any:
    """Due and free, or claimed by a worker whose lease ran out (it crashed or hangs)."""
    due = and_(
        col(RevertReminder.status) == ElevationStatus.ACTIVE.value,
        col(RevertReminder.expires_at) <= now,
        or_(col(RevertReminder.next_attempt_at).is_(None), col(RevertReminder.next_attempt_at) <= now),
    )
    abandoned = and_(
        col(RevertReminder.status) == ElevationStatus.REVERTING.value,
        col(RevertReminder.claimed_at) <= now - lease,
    )
    return or_(due, abandoned)


def claim_due_reverts(
    *, session: Session, now: datetime, token: str, lease: timedelta, limit: int, elevation_id: int | None = None
) -> list[RevertReminder]:
    """Claim up to `limit` elevations due for revert. Of concurrent claimers, each row goes to exactly one."""
    claimable = _revert_claimable(now, lease)
    due = sa_select(col(RevertReminder.id)).where(claimable)
    if elevation_id is not None:
        due = due.where(col(RevertReminder.id) == elevation_id)
    due = due.order_by(col(RevertReminder.expires_at)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    session.exec(
        update(RevertReminder)
        .where(col(RevertReminder.id).in_(due.scalar_subquery()), claimable)
        .values(status=ElevationStatus.REVERTING.value, claim_token=token, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return list(session.exec(select(RevertReminder).where(RevertReminder.claim_token == token)))


def claim_to_end_now(
    *, session: Session, elevation_id: int, expected_expiry: datetime, token: str, now: datetime
) -> RevertReminder | None:
    """End an active elevation now: bring its end forward and claim it in one step, so no sweeper takes it first."""
    moved = session.exec(
        update(RevertReminder)
        .where(
            col(RevertReminder.id) == elevation_id,
            col(RevertReminder.status) == ElevationStatus.ACTIVE.value,
            col(RevertReminder.expires_at) == expected_expiry,
        )
        .values(
            expires_at=min(expected_expiry, now),
            remind_at=[],
            next_remind_at=None,
            status=ElevationStatus.REVERTING.value,
            claim_token=token,
            claimed_at=now,
            updated_at=now,
        )
    ).rowcount
    session.expire_all()
    return session.get(RevertReminder, elevation_id) if moved == 1 else None


def finish_revert(
    *, session: Session, elevation_id: int, token: str, now: datetime, status: ElevationStatus, **fields: Any
) -> bool:
    """End a claimed elevation; False when the claim was lost (its lease ran out and someone else took it)."""
    moved = session.exec(
        update(RevertReminder)
        .where(col(RevertReminder.id) == elevation_id, col(RevertReminder.claim_token) == token)
        .values(status=status.value, claim_token=None, ended_at=now, next_remind_at=None, updated_at=now, **fields)
    ).rowcount
    session.expire_all()
    return moved == 1


def release_claim(*, session: Session, elevation_id: int, token: str, now: datetime, **fields: Any) -> bool:
    """Hand a claimed elevation back (a failed attempt), to be retried at `next_attempt_at`."""
    moved = session.exec(
        update(RevertReminder)
        .where(col(RevertReminder.id) == elevation_id, col(RevertReminder.claim_token) == token)
        .values(status=ElevationStatus.ACTIVE.value, claim_token=None, claimed_at=None, updated_at=now, **fields)
    ).rowcount
    session.expire_all()
    return moved == 1


def due_reminders(*, session: Session, now: datetime, limit: int) -> list[RevertReminder]:
    statement = (
        select(RevertReminder)
        .where(
            RevertReminder.status == ElevationStatus.ACTIVE.value,
            col(RevertReminder.next_remind_at) <= now,
            col(RevertReminder.expires_at) > now,
        )
        .order_by(col(RevertReminder.next_remind_at))
        .limit(limit)
    )
    return list(session.exec(statement))


def claim_reminder(
    *, session: Session, elevation_id: int, due_at: datetime, following: datetime | None, now: datetime
) -> bool:
    """Take the reminder due at `due_at` and move to the next one; True for exactly one caller."""
    moved = session.exec(
        update(RevertReminder)
        .where(
            col(RevertReminder.id) == elevation_id,
            col(RevertReminder.status) == ElevationStatus.ACTIVE.value,
            col(RevertReminder.next_remind_at) == due_at,
        )
        .values(next_remind_at=following, reminders_sent=RevertReminder.reminders_sent + 1, updated_at=now)
    ).rowcount
    session.expire_all()
    return moved == 1


def move_expiry(
    *,
    session: Session,
    elevation_id: int,
    expected_expiry: datetime,
    expires_at: datetime,
    remind_at: list[datetime],
    now: datetime,
) -> bool:
    """Extend (or bring forward) an active elevation's end; conditional on it not having moved meanwhile."""
    moved = session.exec(
        update(RevertReminder)
        .where(
            col(RevertReminder.id) == elevation_id,
            col(RevertReminder.status) == ElevationStatus.ACTIVE.value,
            col(RevertReminder.expires_at) == expected_expiry,
        )
        .values(
            expires_at=expires_at,
            remind_at=[moment.isoformat() for moment in remind_at],
            next_remind_at=min(remind_at) if remind_at else None,
            updated_at=now,
        )
    ).rowcount
    session.expire_all()
    return moved == 1


def replace_fields(
    *, session: Session, elevation_id: int, version: int, fields: dict[str, Any], now: datetime, **extra: Any
) -> bool:
    """Optimistic update of what an elevation holds; False when another writer changed it first."""
    moved = session.exec(
        update(RevertReminder)
        .where(col(RevertReminder.id) == elevation_id, col(RevertReminder.version) == version)
        .values(fields=fields, version=version + 1, updated_at=now, **extra)
    ).rowcount
    session.expire_all()
    return moved == 1


def next_moment(elevation: RevertReminder) -> datetime | None:
    """When this elevation next needs attention (a reminder, its expiry, or a retry)."""
    if elevation.status != ElevationStatus.ACTIVE.value:
        return None
    moments = [elevation.expires_at]
    if elevation.next_remind_at is not None:
        moments.append(elevation.next_remind_at)
    if elevation.next_attempt_at is not None:
        moments = [max(elevation.expires_at, elevation.next_attempt_at)]
    return min(moments)
