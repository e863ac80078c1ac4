"""Break-glass: someone on call takes time-boxed access in an emergency without waiting for an approver.

The policy decides who may (`policy.break_glass.members`), for how long, and how often per person. The request is
approved by its requester, recorded as break-glass, applied at once; the team channel is told immediately, and a
review task is opened that an approver other than the requester has to close afterwards.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from domain.commands import GrantCommand
from domain.durations import zone_named
from domain.lifecycle import RequestEvent, TaskKind
from domain.policy import break_glass_verdict
from services.apply import run_request
from services.approvers import members
from services.context import RequestRefused, ServiceContext
from services.ports import Person
from services.submit import announce, prepare, store
from services.views import RequestView
from storage.audit import AuditKind, record
from storage.db import session_scope
from storage.locks import hold_lock
from storage.models import ManualTask
from storage.requests import add_approval, break_glass_uses, transition_request
from storage.tasks import TaskStatus, add_tasks

DAY = timedelta(hours=24)


def take(
    ctx: ServiceContext,
    command: GrantCommand,
    *,
    requester: Person,
    target_email: str,
    target_slack_id: str | None = None,
    text: str = "",
) -> RequestView:
    """Apply an emergency grant at once. Raises RequestRefused when the policy does not allow it."""
    member = requester.slack_id in members(ctx, ctx.policy.break_glass.members)
    now = ctx.clock.now()
    span = command.duration
    if span is None and command.until is not None:
        span = command.until.resolve(zone_named(requester.tz)) - now
    with Session(ctx.engine) as session:
        _check(ctx, command, requester, member=member, span=span, session=session, now=now)
    request, changes = prepare(
        ctx, command, requester=requester, target_email=target_email, target_slack_id=target_slack_id, text=text
    )
    with session_scope(ctx.engine) as session:
        # Counted and used in one transaction under a lock per person: concurrent uses are counted one after another.
        hold_lock(session=session, key=f"break-glass:{requester.slack_id}")
        uses = _check(ctx, command, requester, member=member, span=span, session=session, now=now)
        view = store(
            session, ctx, request, changes, actor=requester.slack_id, detail={"command": text, "break_glass": True}
        )
        add_approval(session=session, request_id=view.id, approver_id=requester.slack_id, at=now)
        transition_request(
            session=session,
            request_id=view.id,
            event=RequestEvent.APPROVE,
            at=now,
            decided_by=requester.slack_id,
            decided_at=now,
        )
        record(
            session=session,
            event=AuditKind.BREAK_GLASS,
            actor=requester.slack_id,
            at=now,
            request_id=view.id,
            target_email=view.target_email,
            detail={"reason": command.reason, "uses_last_day": uses + 1},
        )
        review = add_tasks(session=session, tasks=[_review_task(ctx, view, requester, now=now)])[0]
        stored = ctx.view(session, view.id)
    assert stored is not None
    announced = announce(ctx, stored)
    ctx.notifier.break_glass_used(announced, ctx.policy.break_glass.notify_channel)
    final = run_request(ctx, view.id) or ctx.load_view(view.id)
    assert final is not None
    ctx.notifier.manual_tasks_opened(final, tuple(task for task in final.tasks if task.id == review.id))
    return final


def _check(
    ctx: ServiceContext,
    command: GrantCommand,
    requester: Person,
    *,
    member: bool,
    span: timedelta | None,
    session: Session,
    now: datetime,
) -> int:
    """Raise RequestRefused unless the policy lets `requester` take this now; returns their uses in the last day."""
    uses = break_glass_uses(session=session, requester_id=requester.slack_id, since=now - DAY)
    verdict = break_glass_verdict(
        ctx.policy.break_glass, member=member, uses_last_day=uses, duration=span, reason=command.reason
    )
    if not verdict.allowed:
        raise RequestRefused(verdict.reason)
    return uses


def _review_task(ctx: ServiceContext, view: RequestView, requester: Person, *, now: datetime) -> ManualTask:
    change = view.changes[0]
    return ManualTask(
        request_id=view.id,
        change_id=None,
        platform=change.platform,
        target_email=view.target_email,
        kind=TaskKind.BREAK_GLASS_REVIEW.value,
        title=f"Review the break-glass use by {requester.label()} on {change.platform_label}",
        instructions=(
            f"{requester.label()} took {change.describe()} for {view.target_email} without approval: "
            f"\u201c{view.reason}\u201d. Check what was done with it (the platform's activity log), then mark this "
            "done with what you found. Someone other than the person who used break-glass must close it."
        ),
        status=TaskStatus.OPEN.value,
        created_at=now,
        remind_at=now + ctx.task_settings.remind_every,
    )
