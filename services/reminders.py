"""Reminders that are due, each sent once however many bot processes look: a temporary grant ending soon, a
request nobody has decided (then its expiry), a manual task still open, an invitation nearing its expiry.

Each is claimed with a conditional update that moves its due time on; only the caller whose update changed the row
sends it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from domain.lifecycle import TaskKind
from services.context import ServiceContext
from services.decisions import Outcome, expire
from services.grants import load
from services.invitations import next_reminder
from services.views import task_view
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.ledger import claim_reminder, due_reminders
from storage.requests import due_pending, mark_reminded
from storage.tasks import claim_task_reminder, due_task_reminders


def remind_ending_grants(ctx: ServiceContext) -> int:
    """Tell the requester and the approvers of every temporary grant whose reminder is due; returns how many."""
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        due = due_reminders(session=session, now=now, limit=ctx.elevation_settings.batch)
    sent = 0
    for row in due:
        assert row.id is not None and row.next_remind_at is not None and row.ends_at is not None
        # Only the latest missed reminder goes out: after downtime, one "ends in 30 minutes", not two.
        following = min((moment for moment in map(datetime.fromisoformat, row.remind_at) if moment > now), default=None)
        with session_scope(ctx.engine) as session:
            if not claim_reminder(
                session=session, grant_id=row.id, due_at=row.next_remind_at, following=following, now=now
            ):
                continue  # another worker sent it
            record(
                session=session,
                event=AuditKind.REMINDED,
                actor=BOT_ACTOR,
                at=now,
                request_id=row.request_id,
                platform=row.platform,
                target_email=row.email,
                detail={"grant": row.id, "ends_at": row.ends_at.isoformat(), "due_at": row.next_remind_at.isoformat()},
            )
        found = load(ctx, row.id)
        if found is not None:
            ctx.notifier.elevation_reminder(found[1], found[0], now)
        if following is not None and ctx.timers is not None:
            ctx.timers.due(following)
        sent += 1
    return sent


def undecided(ctx: ServiceContext) -> tuple[int, int]:
    """Requests nobody decided: remind the approvers once, then expire them. Returns (reminded, expired)."""
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        to_remind, to_expire = due_pending(session=session, now=now, limit=ctx.elevation_settings.batch)
    reminded = 0
    expiring = {request.id for request in to_expire}
    for request in to_remind:
        assert request.id is not None and request.remind_at is not None
        if request.id in expiring:
            continue
        removal = request.verb == "remove"
        # A removal is chased until someone decides, and from the second time on its security group is called on.
        escalate_to = ctx.policy.security_group if removal and request.reminded_at is not None else None
        next_at = now + ctx.policy.removal_chase_every if removal else None
        with session_scope(ctx.engine) as session:
            if not mark_reminded(
                session=session, request_id=request.id, due_at=request.remind_at, at=now, next_at=next_at
            ):
                continue  # another worker sent it
            record(
                session=session,
                event=AuditKind.APPROVERS_REMINDED,
                actor=BOT_ACTOR,
                at=now,
                request_id=request.id,
                target_email=request.target_email,
                detail={
                    "expires_at": request.expires_at.isoformat() if request.expires_at else None,
                    "next_reminder": next_at.isoformat() if next_at else None,
                    "escalated_to": escalate_to,
                },
            )
            view = ctx.view(session, request.id)
        if view is not None:
            ctx.notifier.request_reminder(view, escalate_to=escalate_to)
            reminded += 1
    expired = 0
    for request in to_expire:
        assert request.id is not None
        view = ctx.load_view(request.id)
        if view is not None and expire(ctx, view, reason="nobody decided in time").outcome is Outcome.EXPIRED:
            expired += 1
    return reminded, expired


def remind_open_tasks(ctx: ServiceContext) -> int:
    now = ctx.clock.now()
    with Session(ctx.engine) as session:
        due = due_task_reminders(session=session, now=now, limit=ctx.elevation_settings.batch)
    sent = 0
    for task in due:
        assert task.id is not None and task.remind_at is not None
        with session_scope(ctx.engine) as session:
            following = (
                next_reminder(ctx, task, now)
                if task.kind == TaskKind.INVITATION
                else now + ctx.task_settings.remind_every
            )
            if not claim_task_reminder(session=session, task_id=task.id, due_at=task.remind_at, following=following):
                continue  # another worker took it
            record(
                session=session,
                event=AuditKind.MANUAL_TASK_REMINDED,
                actor=BOT_ACTOR,
                at=now,
                request_id=task.request_id,
                platform=task.platform,
                target_email=task.target_email,
                detail={"task": task.id, "open_since": task.created_at.isoformat()},
            )
            view = ctx.view(session, task.request_id)
        if view is not None:
            ctx.notifier.manual_task_reminder(view, task_view(task), now)
        sent += 1
    return sent
