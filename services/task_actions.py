"""An admin says a manual task is done: record who, when and how, and finish the change when it was the last.

A step before a removal may be skipped instead, by an approver, with a reason (kept as evidence); when the last of a
removal's steps before is done or skipped, the removal is queued and applied. An invitation not accepted yet is
re-sent in the platform's UI: Re-sent records it and starts its time again (services/invitations.py).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.access import StepKind
from domain.lifecycle import ChangeStatus, TaskKind
from domain.policy import Approver, Verdict, may_do_manual_step
from platforms.base import PlatformError
from services.approvers import eligible_approvers
from services.context import ServiceContext
from services.duties import step_refusal
from services.invitations import invitation_times, open_invitation
from services.logs import worker_name
from services.offboarding import steps_before_open
from services.ports import Person
from services.reconcile import drain, queue_change
from services.views import RequestView, TaskView, task_view
from storage.audit import AuditKind, record
from storage.db import session_scope
from storage.ledger import find_account, mark_due
from storage.requests import get_request, lock_change
from storage.tasks import complete_task, get_task, renew_invitation


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
        target_email=request.target_email,
        target_slack_id=request.target_slack_id,
        doer=doer,
        eligible=eligible,
        mailboxes=ctx.policy.people,
    )


def complete(
    ctx: ServiceContext, task_id: int, *, person: Person, evidence: str | None, skip: bool = False
) -> TaskResult:
    """Record a task done (or, `skip`, a step before a removal skipped, `evidence` saying why)."""
    task = load_task(ctx, task_id)
    if task is None:
        return TaskResult(outcome=TaskOutcome.NOT_FOUND)
    request = ctx.load_view(task.request_id)
    assert request is not None
    if not task.is_open:
        return TaskResult(outcome=TaskOutcome.ALREADY_DONE, task=task, request=request)
    if task.kind == TaskKind.BREAK_GLASS_REVIEW and person.slack_id == request.requester_id:
        verdict = Verdict.refuse("You used break-glass, so someone else has to review it.")
    elif skip and task.kind is not TaskKind.BEFORE_REMOVAL:
        verdict = Verdict.refuse("Only a step before a removal can be skipped; mark this one done when it is.")
    elif skip and not (evidence or "").strip():
        verdict = Verdict.refuse("Say why this step is skipped: the reason is kept in the evidence.")
    elif (refusal := step_refusal(ctx, request, task.platform, person)) is not None:
        verdict = Verdict.refuse(refusal)
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
    released: int | None = None
    invitation: int | None = None
    event = AuditKind.MANUAL_STEP_SKIPPED if skip else AuditKind.MANUAL_STEP_DONE
    if task.kind is TaskKind.INVITATION:
        event = AuditKind.INVITATION_ACCEPTED
    with session_scope(ctx.engine) as session:
        if not complete_task(
            session=session, task_id=task_id, by=person.slack_id, at=now, evidence=evidence, skipped=skip
        ):
            return TaskResult(outcome=TaskOutcome.ALREADY_DONE, task=load_task(ctx, task_id), request=request)
        record(
            session=session,
            event=event,
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
        if task.kind is TaskKind.BEFORE_REMOVAL and task.change_id is not None:
            released = _release_removal(session, ctx, task.change_id)
        if task.step is not None and task.step.kind is StepKind.CREATE_MEMBER and task.platform is not None:
            # The admin sent the platform's invitation: it is tracked until accepted, from now.
            row = get_request(session=session, request_id=task.request_id)
            assert row is not None
            invitation = open_invitation(
                session, ctx, row, task.change_id, platform=task.platform, email=task.target_email
            )
    if released is not None:
        drain(ctx, released, worker=worker_name())
    if task.kind is TaskKind.PLATFORM_STEP and (account := _account_of(ctx, task)) is not None:
        # Reconcile the account: it verifies the platform now has what the step set, and finishes the change (or
        # the end of a grant) once none of its steps is left.
        drain(ctx, account, worker=worker_name())
    request = ctx.load_view(task.request_id) or request
    ctx.notifier.request_progressed(request)
    if invitation is not None:
        ctx.notifier.manual_tasks_opened(request, tuple(item for item in request.tasks if item.id == invitation))
    return TaskResult(outcome=TaskOutcome.DONE, task=load_task(ctx, task_id), request=request)


def resent(ctx: ServiceContext, task_id: int, *, person: Person) -> TaskResult:
    """Someone re-sent an open invitation in the platform's UI: its time starts again."""
    task = load_task(ctx, task_id)
    if task is None:
        return TaskResult(outcome=TaskOutcome.NOT_FOUND)
    request = ctx.load_view(task.request_id)
    assert request is not None
    if task.kind is not TaskKind.INVITATION:
        return TaskResult(outcome=TaskOutcome.REFUSED, reason="Only an invitation can be re-sent.", task=task)
    if not task.is_open:
        return TaskResult(outcome=TaskOutcome.ALREADY_DONE, task=task, request=request)
    refusal = step_refusal(ctx, request, task.platform, person)
    verdict = may_complete(ctx, request, task, person)
    if refusal is not None or not verdict.allowed:
        reason = refusal or verdict.reason
        return TaskResult(outcome=TaskOutcome.REFUSED, reason=reason, task=task, request=request)
    client = ctx.platforms.get(task.platform or "")
    if client is None or client.invitation_days is None:
        reason = f"{task.platform} is not configured to invite people any more."
        return TaskResult(outcome=TaskOutcome.REFUSED, reason=reason, task=task, request=request)
    now = ctx.clock.now()
    due, remind_at = invitation_times(ctx, client.invitation_days, now)
    with session_scope(ctx.engine) as session:
        if not renew_invitation(session=session, task_id=task_id, due_by=due, remind_at=remind_at):
            return TaskResult(outcome=TaskOutcome.ALREADY_DONE, task=load_task(ctx, task_id), request=request)
        record(
            session=session,
            event=AuditKind.INVITATION_RESENT,
            actor=person.slack_id,
            at=now,
            request_id=task.request_id,
            platform=task.platform,
            target_email=task.target_email,
            detail={
                "task": task_id,
                "expires_at": due.isoformat(),
                "was_due": task.due_by.isoformat() if task.due_by else None,
            },
        )
    return TaskResult(outcome=TaskOutcome.DONE, task=load_task(ctx, task_id), request=ctx.load_view(task.request_id))


def _release_removal(session: Session, ctx: ServiceContext, change_id: int) -> int | None:
    """In the transaction that closed a step before a removal: once none is open, queue the removal (an account to
    drain). Together, so that a crash between the two cannot leave the removal waiting for steps all closed; and
    under a lock on the change, so that two people closing the last two steps at once cannot each see the other's
    still open."""
    change = lock_change(session=session, change_id=change_id)
    if change is None or change.request_id is None or change.status != ChangeStatus.GATED.value:
        return None
    if steps_before_open(session, change_id):
        return None
    request = get_request(session=session, request_id=change.request_id)
    assert request is not None
    return queue_change(session, ctx, change, email=request.target_email, now=ctx.clock.now())


def _account_of(ctx: ServiceContext, task: TaskView) -> int | None:
    """The account a manual step was on, marked due so that reconciling it looks at once."""
    if task.platform is None:
        return None
    with session_scope(ctx.engine) as session:
        account = find_account(session=session, platform=task.platform, email=task.target_email)
        if account is None or account.id is None:
            return None
        mark_due(session=session, account_id=account.id, at=ctx.clock.now())
        return account.id
