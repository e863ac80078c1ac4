"""Invitations: where a platform invites a new member by email, their account counts only once they accept, and the
invitation expires (Heap's a month after it is sent).

When a change creates a member on such a platform (by API, or an admin marking Heap's invite step done) an
invitation task opens under that change, due when the invitation expires. The sweep asks the platform whether it was
accepted, where the platform can say, and closes the task; elsewhere an admin says so (Done). From
`tasks.invitation_remind_before` ahead of its expiry the approvers are reminded, with the platform's steps to re-send
it; Re-sent records that it was and starts its time again. An account that goes before it is accepted voids it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from domain.lifecycle import TaskKind
from platforms.base import PlatformError
from services.context import ServiceContext
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.models import AccessRequest, ManualTask
from storage.tasks import (
    TaskStatus,
    add_tasks,
    complete_task,
    invitations_to_check,
    mark_checked,
    open_invitations,
)

logger = logging.getLogger("accessbot.invitations")


def open_invitation(
    session: Session, ctx: ServiceContext, request: AccessRequest, change_id: int | None, *, platform: str, email: str
) -> int | None:
    """In the transaction that recorded a new member: track their invitation, where the platform invites. Returns
    the task's id, or None (no invitation, or one is open already)."""
    client = ctx.platforms.get(platform)
    if client is None or client.invitation_days is None or request.id is None:
        return None
    if open_invitations(session=session, email=email, platform=platform):
        return None
    now = ctx.clock.now()
    due, remind_at = invitation_times(ctx, client.invitation_days, now)
    configured = ctx.settings.get(platform)
    label = configured.label if configured and configured.label else platform
    told = (
        f"{label} tells the bot when they accept, and this closes by itself."
        if client.reports_invitations
        else "Press Accepted… once they have (they appear as a member, not as invited)."
    )
    task = ManualTask(
        request_id=request.id,
        change_id=change_id,
        platform=platform,
        target_email=email,
        kind=TaskKind.INVITATION.value,
        title=f"{label}: {email} accepts the invitation",
        instructions=(
            f"{email} was invited by email; the account counts once they accept. {told} If the invitation is lost "
            f"or runs out, re-send it: {client.resend_instructions(email)} Then press Re-sent."
        ),
        status=TaskStatus.OPEN.value,
        created_at=now,
        due_by=due,
        remind_at=remind_at,
    )
    add_tasks(session=session, tasks=[task])
    record(
        session=session,
        event=AuditKind.INVITATION_SENT,
        actor=BOT_ACTOR,
        at=now,
        request_id=request.id,
        platform=platform,
        target_email=email,
        detail={"task": task.id, "expires_at": due.isoformat()},
    )
    return task.id


def invitation_times(ctx: ServiceContext, days: int, sent_at: datetime) -> tuple[datetime, datetime]:
    """An invitation sent (or re-sent) at `sent_at`: when it expires, and when the approvers are first reminded."""
    due = sent_at + timedelta(days=days)
    return due, max(sent_at, due - ctx.task_settings.invitation_remind_before)


def next_reminder(ctx: ServiceContext, task: ManualTask, now: datetime) -> datetime:
    """After a reminder of an invitation: the next one, and never later than the moment it expires."""
    following = now + ctx.task_settings.remind_every
    if task.due_by is not None and now < task.due_by:
        return min(following, task.due_by)
    return following


def check_invitations(ctx: ServiceContext) -> int:
    """Ask the platforms about open invitations not asked about for `tasks.invitation_check_every`: close those
    accepted, and those whose account is gone. Returns how many closed."""
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        due = invitations_to_check(
            session=session,
            checked_before=now - ctx.task_settings.invitation_check_every,
            limit=ctx.elevation_settings.batch,
        )
    closed = 0
    for task in due:
        assert task.id is not None
        client = ctx.platforms.get(task.platform or "")
        event: AuditKind | None = None
        if client is not None:
            try:
                with client.operation():
                    if not client.get_access(task.target_email).member:
                        event = AuditKind.INVITATION_VOID
                    elif client.invitation_accepted(task.target_email):
                        event = AuditKind.INVITATION_ACCEPTED
            except PlatformError as error:
                logger.warning("could not ask %s about %s's invitation: %s", task.platform, task.target_email, error)
        with session_scope(ctx.engine) as session:
            mark_checked(session=session, task_id=task.id, at=now)
            if event is None:
                continue
            evidence = (
                f"{task.platform} reports the account active: the invitation was accepted."
                if event is AuditKind.INVITATION_ACCEPTED
                else f"{task.platform} has no account for them any more: the invitation is void."
            )
            if not complete_task(session=session, task_id=task.id, by=BOT_ACTOR, at=now, evidence=evidence):
                continue
            record(
                session=session,
                event=event,
                actor=BOT_ACTOR,
                at=now,
                request_id=task.request_id,
                platform=task.platform,
                target_email=task.target_email,
                detail={"task": task.id, "evidence": evidence},
            )
            view = ctx.view(session, task.request_id)
        closed += 1
        if view is not None:
            ctx.notifier.request_progressed(view)
    return closed
