"""An admin says a manual task is done: record who, when and how, and finish the change when it was the last."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.access import mismatches
from domain.lifecycle import ChangeStatus, TaskKind
from domain.policy import Approver, Verdict, may_do_manual_step
from platforms.base import ApplyResult, PlatformError
from services.apply import mark_applied, mark_failed, settle
from services.approvers import eligible_approvers
from services.context import ServiceContext, logger
from services.ports import Person
from services.views import RequestView, TaskView, task_view
from storage.audit import AuditKind, record
from storage.db import session_scope
from storage.tasks import complete_task, get_task, open_steps_of_change


class TaskOutcome(StrEnum):
    DONE = "done"
    ALREADY_DONE = "already_done"
    REFUSED = "refused"
    FAILED = "failed"  # the platform would not take the record; the task stays open
    NOT_FOUND = "not_found"


class TaskResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: TaskOutcome
    reason: str = ""
    task: TaskView | None = None
    request: RequestView | None = None


def load_task(ctx: ServiceContext, task_id: int) -> TaskView | None:
    with Session(ctx.engine) as session:
        row = get_task(session=session, task_id=task_id)
        return task_view(row) if row is not None else None


def may_complete(ctx: ServiceContext, request: RequestView, task: TaskView, person: Person) -> Verdict:
    eligible = eligible_approvers(ctx, (task.platform,)).get(task.platform or "") if task.platform else None
    doer = Approver(slack_id=person.slack_id, email=person.email, is_workspace_admin=person.is_workspace_admin)
    return may_do_manual_step(
        target_email=request.target_email, target_slack_id=request.target_slack_id, doer=doer, eligible=eligible
    )


def complete(ctx: ServiceContext, task_id: int, *, person: Person, evidence: str | None) -> TaskResult:
    task = load_task(ctx, task_id)
    if task is None:
        return TaskResult(outcome=TaskOutcome.NOT_FOUND)
    request = ctx.load_view(task.request_id)
    assert request is not None
    if not task.is_open:
        return TaskResult(outcome=TaskOutcome.ALREADY_DONE, task=task, request=request)
    if task.kind == TaskKind.BREAK_GLASS_REVIEW and person.slack_id == request.requester_id:
        verdict = Verdict.refuse("You used break-glass, so someone else has to review it.")
    else:
        verdict = may_complete(ctx, request, task, person)
    if not verdict.allowed:
        return TaskResult(outcome=TaskOutcome.REFUSED, reason=verdict.reason, task=task, request=request)
    if task.step is not None and task.platform is not None and task.platform in ctx.platforms:
        try:
            # Recorded before the task is closed: a second click records the same value again, harmlessly.
            ctx.platforms[task.platform].record_manual(task.target_email, task.step, actor=person.slack_id)
        except PlatformError as error:
            return TaskResult(outcome=TaskOutcome.FAILED, reason=str(error), task=task, request=request)
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        if not complete_task(session=session, task_id=task_id, by=person.slack_id, at=now, evidence=evidence):
            return TaskResult(outcome=TaskOutcome.ALREADY_DONE, task=load_task(ctx, task_id), request=request)
        record(
            session=session,
            event=AuditKind.MANUAL_STEP_DONE,
            actor=person.slack_id,
            at=now,
            request_id=task.request_id,
            platform=task.platform,
            target_email=task.target_email,
            detail={
                "task": task_id,
                "title": task.title,
                "evidence": evidence or "",
                "step": task.step.model_dump(mode="json") if task.step else None,
            },
        )
        remaining = open_steps_of_change(session=session, change_id=task.change_id) if task.change_id else []
    if task.kind is TaskKind.PLATFORM_STEP and task.change_id is not None and not remaining:
        request = _finish_change(ctx, request.id, task.change_id)
    else:
        request = ctx.load_view(task.request_id) or request
        ctx.notifier.request_progressed(request)
    return TaskResult(outcome=TaskOutcome.DONE, task=load_task(ctx, task_id), request=request)


def _finish_change(ctx: ServiceContext, request_id: int, change_id: int) -> RequestView:
    """Every manual step of a change is done: check the platform now agrees, and settle the request."""
    request = ctx.load_view(request_id)
    assert request is not None
    change = next(change for change in request.changes if change.id == change_id)
    if change.status is not ChangeStatus.AWAITING_MANUAL or change.desired is None or change.before is None:
        return request
    platform = ctx.platforms[change.platform]
    try:
        after = platform.get_access(request.target_email)
    except PlatformError as error:
        mark_failed(ctx, request, change, before=change.before, error=str(error), kind=error.kind)
        return settle(ctx, request_id)
    problems = mismatches(after, change.desired)
    opened: list[int] = []
    if problems:
        logger.warning("request %s: after the manual steps %s still differs: %s", request_id, change.platform, problems)
        mark_failed(
            ctx,
            request,
            change,
            before=change.before,
            kind="verification",
            error=f"after the manual steps, {change.platform} still differs ({'; '.join(problems)})",
        )
    else:
        opened = mark_applied(
            ctx,
            request,
            change,
            before=change.before,
            desired=change.desired,
            after=after,
            result=ApplyResult(responses=("manual steps done",)),
        )
    final = settle(ctx, request_id)
    if opened:
        ctx.notifier.manual_tasks_opened(final, tuple(task for task in final.tasks if task.id in opened))
    return final
