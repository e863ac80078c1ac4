"""Queries and commands on manual tasks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from domain.lifecycle import TaskKind
from storage.db import expire_row
from storage.models import ManualTask


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    SKIPPED = "skipped"  # a step before a removal an approver decided not to do, with the reason as evidence


def add_tasks(*, session: Session, tasks: list[ManualTask]) -> list[ManualTask]:
    for task in tasks:
        session.add(task)
    session.flush()
    return tasks


def get_task(*, session: Session, task_id: int) -> ManualTask | None:
    return session.get(ManualTask, task_id)


def tasks_of(*, session: Session, request_ids: list[int]) -> list[ManualTask]:
    if not request_ids:
        return []
    statement = select(ManualTask).where(col(ManualTask.request_id).in_(request_ids)).order_by(col(ManualTask.id))
    return list(session.exec(statement))


def open_steps_of_change(*, session: Session, change_id: int) -> list[ManualTask]:
    """The manual steps of a change still to do (follow-up tasks do not hold a change back)."""
    statement = select(ManualTask).where(
        ManualTask.change_id == change_id,
        ManualTask.status == TaskStatus.OPEN,
        ManualTask.kind == TaskKind.PLATFORM_STEP,
    )
    return list(session.exec(statement))


def open_step_tasks_of(*, session: Session, platform: str, email: str) -> list[ManualTask]:
    """The manual steps still open on one person's account on one platform."""
    statement = select(ManualTask).where(
        ManualTask.platform == platform,
        ManualTask.target_email == email,
        ManualTask.status == TaskStatus.OPEN,
        ManualTask.kind == TaskKind.PLATFORM_STEP,
    )
    return list(session.exec(statement))


def tasks_of_change(*, session: Session, change_id: int, kind: TaskKind) -> list[ManualTask]:
    statement = select(ManualTask).where(ManualTask.change_id == change_id, ManualTask.kind == kind)
    return list(session.exec(statement))


def complete_task(
    *, session: Session, task_id: int, by: str, at: datetime, evidence: str | None, skipped: bool = False
) -> bool:
    """Mark an open task done (or skipped); True for exactly one caller."""
    status = TaskStatus.SKIPPED if skipped else TaskStatus.DONE
    moved = session.exec(
        update(ManualTask)
        .where(col(ManualTask.id) == task_id, col(ManualTask.status) == TaskStatus.OPEN.value)
        .values(status=status.value, done_by=by, done_at=at, evidence=evidence, remind_at=None)
    ).rowcount
    expire_row(session, ManualTask, task_id)
    return moved == 1


def due_task_reminders(*, session: Session, now: datetime, limit: int) -> list[ManualTask]:
    statement = (
        select(ManualTask)
        .where(ManualTask.status == TaskStatus.OPEN.value, col(ManualTask.remind_at) <= now)
        .order_by(col(ManualTask.remind_at))
        .limit(limit)
    )
    return list(session.exec(statement))


def claim_task_reminder(*, session: Session, task_id: int, due_at: datetime, following: datetime) -> bool:
    moved = session.exec(
        update(ManualTask)
        .where(
            col(ManualTask.id) == task_id,
            col(ManualTask.status) == TaskStatus.OPEN.value,
            col(ManualTask.remind_at) == due_at,
        )
        .values(remind_at=following, reminders_sent=ManualTask.reminders_sent + 1)
    ).rowcount
    expire_row(session, ManualTask, task_id)
    return moved == 1


def open_invitations(*, session: Session, email: str, platform: str | None = None) -> list[ManualTask]:
    """The invitations `email` has not accepted yet (on one platform, or on each)."""
    statement = select(ManualTask).where(
        ManualTask.target_email == email,
        ManualTask.status == TaskStatus.OPEN.value,
        ManualTask.kind == TaskKind.INVITATION.value,
    )
    if platform is not None:
        statement = statement.where(ManualTask.platform == platform)
    return list(session.exec(statement.order_by(col(ManualTask.id))))


def invitations_to_check(*, session: Session, checked_before: datetime, limit: int) -> list[ManualTask]:
    """Open invitations the platform was not asked about since `checked_before`, the longest unasked first."""
    statement = (
        select(ManualTask)
        .where(
            ManualTask.status == TaskStatus.OPEN.value,
            ManualTask.kind == TaskKind.INVITATION.value,
            or_(col(ManualTask.checked_at).is_(None), col(ManualTask.checked_at) < checked_before),
        )
        .order_by(col(ManualTask.checked_at).is_not(None), col(ManualTask.checked_at), col(ManualTask.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def mark_checked(*, session: Session, task_id: int, at: datetime) -> None:
    session.exec(update(ManualTask).where(col(ManualTask.id) == task_id).values(checked_at=at))


def renew_invitation(*, session: Session, task_id: int, due_by: datetime, remind_at: datetime) -> bool:
    """An open invitation was sent again: it is due anew. True for exactly one caller."""
    moved = session.exec(
        update(ManualTask)
        .where(col(ManualTask.id) == task_id, col(ManualTask.status) == TaskStatus.OPEN.value)
        .values(due_by=due_by, remind_at=remind_at, reminders_sent=0)
    ).rowcount
    expire_row(session, ManualTask, task_id)
    return moved == 1
