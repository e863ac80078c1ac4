"""Applying an approved request: snapshot, change, snapshot again, verify, record.

Each platform change is claimed with a conditional update before anything is sent to the platform, so two workers
(a double click, two bot processes) never apply it twice. A failure leaves the change `failed` with the error and
whatever was captured; nothing is lost and Retry converges, because clients apply desired state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal
from sqlmodel import Session

from domain.access import AccessState, unexplained
from domain.lifecycle import ChangeEvent, ChangeStatus, RequestEvent, RequestStatus, outcome_of
from domain.policy import guard_rails, needs_admin_count
from platforms.base import ApplyResult, PlatformError
from services.approvers import count_org_admins
from services.context import ServiceContext, logger
from services.elevations import extend, on_change_applied, wake
from services.logs import for_request
from services.offboarding import open_checklist, removal_notices
from services.tasks import open_platform_tasks
from services.views import ChangeView, RequestView, desired_state
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.models import PlatformChange
from storage.requests import change_statuses, transition_change, transition_request


@for_request
def run_request(ctx: ServiceContext, request_id: int, *, actor: str) -> RequestView | None:
    """Apply every change of an approved (or failed) request that is not applied yet.

    Returns the final view, or None when another worker is already running this request.
    """
    with session_scope(ctx.engine) as session:
        if not transition_request(session=session, request_id=request_id, event=RequestEvent.START, at=ctx.clock.now()):
            return None
        view = ctx.view(session, request_id)
    assert view is not None
    ctx.notifier.request_progressed(view)
    opened: list[int] = []
    pending = [change for change in view.changes if change.status in (ChangeStatus.WAITING, ChangeStatus.FAILED)]
    for index, change in enumerate(pending):
        opened += _apply_change(ctx, view, change, actor=actor)
        if index < len(pending) - 1:
            # Offboarding from several platforms: the card shows each one's result as it comes.
            progressed = ctx.load_view(request_id)
            assert progressed is not None
            ctx.notifier.request_progressed(progressed)
    final = settle(ctx, request_id)
    if opened:
        # After the thread has been told manual steps follow: each one, with its instructions and Done button.
        ctx.notifier.manual_tasks_opened(final, tuple(task for task in final.tasks if task.id in opened))
    return final


def settle(ctx: ServiceContext, request_id: int) -> RequestView:
    """Move the request to what its changes add up to (applied, waiting for manual steps, failed) and tell people."""
    with session_scope(ctx.engine) as session:
        outcome = outcome_of(change_statuses(session=session, request_id=request_id))
        moved = transition_request(session=session, request_id=request_id, event=outcome, at=ctx.clock.now())
        final = ctx.view(session, request_id)
    assert final is not None
    if moved:
        logger.info("request is %s", final.status.value)
    ctx.notifier.request_concluded(final)
    if moved and final.verb == "remove" and final.status is RequestStatus.APPLIED:
        # Remove first, notify second: the notice is offered only once every platform is done.
        ctx.notifier.removal_notices(final, removal_notices(ctx, final))
    return final


def _guard_rails_now(ctx: ServiceContext, platform: str, current: AccessState, desired: AccessState) -> tuple[str, ...]:
    """The admin limits again, with the platform as it is now: other requests may have been applied since."""
    catalog = ctx.catalogs[platform]
    if not needs_admin_count(catalog, current, desired):
        return ()
    return guard_rails(
        ctx.policy.guard_rails,
        platform=platform,
        catalog=catalog,
        current=current,
        desired=desired,
        org_admins=count_org_admins(ctx, platform),
    ).refusals


def _claim(ctx: ServiceContext, request: RequestView, change: ChangeView, *, actor: str) -> bool:
    with session_scope(ctx.engine) as session:
        claimed = transition_change(
            session=session,
            change_id=change.id,
            event=ChangeEvent.START,
            at=ctx.clock.now(),
            attempts=PlatformChange.attempts + literal(1),
        )
        if claimed:
            record(
                session=session,
                event=AuditKind.APPLY_STARTED,
                actor=actor,
                at=ctx.clock.now(),
                request_id=request.id,
                platform=change.platform,
                target_email=request.target_email,
                detail={"attempt": change.attempts + 1},
            )
    return claimed


def _apply_change(ctx: ServiceContext, request: RequestView, change: ChangeView, *, actor: str) -> list[int]:
    """Apply one change; returns the manual tasks it opened."""
    if not _claim(ctx, request, change, actor=actor):
        return []
    if change.action == "extend":
        _apply_extension(ctx, request, change)
        return []
    email = request.target_email
    platform = ctx.platforms.get(change.platform)
    before: AccessState | None = None
    try:
        if platform is None:
            raise PlatformError(change.platform, "this platform is no longer configured")
        before = platform.get_access(email)
        desired = desired_state(change.grant, change.method, before, platform.catalog)
        if refusals := _guard_rails_now(ctx, change.platform, before, desired):
            mark_failed(
                ctx,
                request,
                change,
                before=before,
                kind="refused",
                error=f"refused by a guard rail right before applying: {' '.join(refusals)}",
            )
            return []
        result = platform.apply(email, desired)
        after = platform.get_access(email)
    except PlatformError as error:
        partial: dict[str, Any] = {}
        if error.applied or error.pending:
            partial = {
                "applied": [step.describe() for step in error.applied],
                "not_applied": [step.describe() for step in error.pending],
            }
        mark_failed(ctx, request, change, before=before, error=failure_text(error), kind=error.kind, extra=partial)
        return []
    except Exception:
        logger.exception("applying change %s of request %s failed", change.id, request.id)
        mark_failed(
            ctx, request, change, before=before, error="internal error in accessbot; see its log", kind="internal"
        )
        return []
    problems = [step.describe() for step in unexplained(after, desired, result.manual)]
    if problems:
        mark_failed(
            ctx,
            request,
            change,
            before=before,
            error=f"verification failed: {platform.name} still differs from what was asked ({'; '.join(problems)})",
            kind="verification",
            extra={"desired": desired, "after": after, "result": result},
        )
        return []
    if result.manual:
        return _await_manual(ctx, request, change, before=before, desired=desired, after=after, result=result)
    return mark_applied(ctx, request, change, before=before, desired=desired, after=after, result=result)


def _await_manual(
    ctx: ServiceContext,
    request: RequestView,
    change: ChangeView,
    *,
    before: AccessState,
    desired: AccessState,
    after: AccessState,
    result: ApplyResult,
) -> list[int]:
    """What the API could do is done and checked; the rest becomes tracked tasks for an admin."""
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        fields = _outcome_fields(session, change, before=before, desired=desired, after=after, result=result)
        transition_change(session=session, change_id=change.id, event=ChangeEvent.WAIT_MANUAL, at=now, **fields)
        tasks = open_platform_tasks(session, ctx, request, change, result.manual, now=now)
        record(
            session=session,
            event=AuditKind.AWAITING_MANUAL,
            actor=BOT_ACTOR,
            at=now,
            request_id=request.id,
            platform=change.platform,
            target_email=request.target_email,
            detail={
                "before": before.model_dump(mode="json"),
                "after": after.model_dump(mode="json"),
                "applied": [step.describe() for step in result.applied],
                "manual": [step.describe() for step in result.manual],
                "tasks": tasks,
                "responses": list(result.responses),
            },
        )
    return tasks


def _apply_extension(ctx: ServiceContext, request: RequestView, change: ChangeView) -> None:
    """An approved extension moves the elevation's end; the platform already has the access."""
    extended = None
    if change.extends is not None and request.duration is not None:
        extended = extend(
            ctx, change.extends.id, by=request.duration, actor=request.decided_by or BOT_ACTOR, request_id=request.id
        )
    if extended is None:
        mark_failed(
            ctx,
            request,
            change,
            before=None,
            kind="refused",
            error="the temporary access already ended, so there is nothing to extend",
        )
        return
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        transition_change(
            session=session,
            change_id=change.id,
            event=ChangeEvent.SUCCEED,
            at=now,
            applied_at=now,
            error=None,
            error_kind=None,
            after=extended.elevated_to.model_dump(mode="json"),
        )
        record(
            session=session,
            event=AuditKind.APPLIED,
            actor=request.decided_by or BOT_ACTOR,
            at=now,
            request_id=request.id,
            platform=change.platform,
            target_email=request.target_email,
            detail={"elevation": extended.id, "expires_at": extended.expires_at.isoformat()},
        )


def mark_applied(
    ctx: ServiceContext,
    request: RequestView,
    change: ChangeView,
    *,
    before: AccessState,
    desired: AccessState,
    after: AccessState,
    result: ApplyResult,
) -> list[int]:
    """Record a verified change; returns the follow-up tasks it opened (a removal's checklist)."""
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        fields = _outcome_fields(session, change, before=before, desired=desired, after=after, result=result)
        transition_change(
            session=session, change_id=change.id, event=ChangeEvent.SUCCEED, at=now, applied_at=now, **fields
        )
        record(
            session=session,
            event=AuditKind.APPLIED,
            actor=request.decided_by or "accessbot",
            at=now,
            request_id=request.id,
            platform=change.platform,
            target_email=request.target_email,
            detail={
                "before": before.model_dump(mode="json"),
                "desired": desired.model_dump(mode="json"),
                "after": after.model_dump(mode="json"),
                "steps": [step.describe() for step in result.applied],
                "responses": list(result.responses),
            },
        )
        # After a partial failure, the first attempt's snapshot, not this one, is what the account was before.
        started = on_change_applied(session, ctx, request, change, before=change.before or before, after=after, now=now)
        # In the same transaction: a removal is never recorded as done without its checklist.
        follow_ups = open_checklist(session, ctx, request, change, now=now)
    if started is not None:
        wake(ctx, started)
    return follow_ups


def mark_failed(
    ctx: ServiceContext,
    request: RequestView,
    change: ChangeView,
    *,
    before: AccessState | None,
    error: str,
    kind: str,
    extra: dict[str, Any] | None = None,
) -> None:
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        fields: dict[str, Any] = {"error": error, "error_kind": kind}
        if before is not None:
            _keep_first_before(session, change, before, fields)
        transition_change(session=session, change_id=change.id, event=ChangeEvent.FAIL, at=now, **fields)
        detail: dict[str, Any] = {"error": error, "kind": kind}
        if before is not None:
            detail["before"] = before.model_dump(mode="json")
        for key, value in (extra or {}).items():
            detail[key] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        record(
            session=session,
            event=AuditKind.FAILED,
            actor="accessbot",
            at=now,
            request_id=request.id,
            platform=change.platform,
            target_email=request.target_email,
            detail=detail,
        )


def failure_text(error: PlatformError) -> str:
    """The error, and for a change that stopped part-way, exactly what was and was not done."""
    text = str(error)
    if error.applied:
        text += f". Done before it stopped: {'; '.join(step.describe() for step in error.applied)}"
    if error.pending:
        text += f". Not done: {'; '.join(step.describe() for step in error.pending)}"
    return text


def _outcome_fields(
    session: Session,
    change: ChangeView,
    *,
    before: AccessState,
    desired: AccessState,
    after: AccessState,
    result: ApplyResult,
) -> dict[str, Any]:
    """What a change row keeps once the platform has answered and the result is verified."""
    fields: dict[str, Any] = {
        "desired": desired.model_dump(mode="json"),
        "after": after.model_dump(mode="json"),
        "responses": list(result.responses),
        "manual_steps": [step.model_dump(mode="json") for step in result.manual],
        "error": None,
        "error_kind": None,
    }
    _keep_first_before(session, change, before, fields)
    return fields


def _keep_first_before(session: Session, change: ChangeView, before: AccessState, fields: dict[str, Any]) -> None:
    """The first attempt's snapshot is the revert target; a retry after a partial failure must not replace it."""
    row = session.get(PlatformChange, change.id)
    if row is not None and row.before is None:
        fields["before"] = before.model_dump(mode="json")
