"""The recording transaction of a reconcile step that verified: changes applied (or waiting for manual steps), grants
active or ended, what the platform now has."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.access import AccessState, AccessStep, StepKind
from domain.ledger import (
    ACCOUNT_ROLE,
    LIVE,
    MEMBER,
    SCOPE_PREFIX,
    EndReason,
    GrantState,
    Layer,
    reminder_times,
    taken_over,
    value_of,
)
from domain.lifecycle import ChangeEvent, ChangeStatus
from platforms.base import ApplyResult
from services import metrics
from services.context import ServiceContext
from services.invitations import open_invitation
from services.offboarding import open_checklist
from services.reconcile.audit import audit_change, audit_grant
from services.reconcile.books import Books
from services.reconcile.plan import has_work
from services.reconcile.report import Notices, Step, Tally, publish, wake
from services.tasks import open_step_tasks
from services.views import grant_view
from storage.audit import BOT_ACTOR, AuditKind
from storage.db import session_scope
from storage.ledger import Claim, next_change, release
from storage.models import AccessRequest, Grant, PlatformAccount, PlatformChange
from storage.requests import get_change, get_request, transition_change
from storage.tasks import open_steps_of_change

if TYPE_CHECKING:
    from services.reconcile.plan import Planned


def part_of(step: AccessStep) -> str:
    """The part of someone's access a step changes."""
    match step.kind:
        case StepKind.SET_ACCOUNT_ROLE:
            return ACCOUNT_ROLE
        case StepKind.SET_SCOPE_ROLE | StepKind.REMOVE_SCOPE:
            return SCOPE_PREFIX + (step.scope or "")
    return MEMBER


# --- a step that verified -----------------------------------------------------------------------------------------


def record_step(
    ctx: ServiceContext,
    held: Claim,
    tally: Tally,
    *,
    planned: Planned,
    actual: AccessState,
    after: AccessState,
    result: ApplyResult,
) -> Step:
    notices = Notices()
    with session_scope(ctx.engine) as session:
        books = Books.hold(session, [held])
        if int(held.key) not in books.accounts:
            return Step.LOST
        step = record_in(
            books, ctx, held, tally, planned=planned, actual=actual, after=after, result=result, notices=notices
        )
        key = int(held.key)
        if step is Step.DONE and not has_work(
            session, books.accounts[key], ctx.clock.now(), next_change(session=session, account_id=key)
        ):
            # Let go with the record: a change queued meanwhile either shows here, or the transaction queuing it
            # waits for this one's lock on the account (storage.ledger.mark_due) and then finds it free to claim.
            release(session=session, table=PlatformAccount, key=held.key, fence=held.fence)
            step = Step.FINISHED
    publish(ctx, notices, tally)
    return step


def record_in(
    books: Books,
    ctx: ServiceContext,
    held: Claim,
    tally: Tally,
    *,
    planned: Planned,
    actual: AccessState,
    after: AccessState,
    result: ApplyResult,
    notices: Notices,
) -> Step:
    """Record a step that verified, on accounts the caller holds (`books`: one, or a whole batch)."""
    session = books.session
    now = ctx.clock.now()
    manual = {part_of(step): step for step in result.manual}
    account = books.accounts.get(int(held.key))
    if account is None:
        return Step.LOST
    assert account.id is not None
    # Someone woke the account while this step was on its way (a grant revoked, a manual step done): what they did
    # was not in its plan. The account takes another step now, and what waits for a hand is judged there, from a
    # fresh reading, since an admin may just have done a step this one still found undone.
    woken = account.due_at is not None and account.due_at < planned.looks_again_at
    if planned.change_id is not None:
        change = get_change(session=session, change_id=planned.change_id)
        assert change is not None and change.request_id is not None
        # Held here, so that the session keeps it (its identity map holds rows only while someone does).
        request = get_request(session=session, request_id=change.request_id)
        assert request is not None
        _change_done(books, ctx, account, change, planned, actual, after, result, manual, now, notices)
        if any(step.kind is StepKind.CREATE_MEMBER for step in result.applied):
            _invited(books, ctx, account, change, request, notices)
    for change in list(books.awaiting.get(account.id, [])):
        if change.id != planned.change_id and not woken:
            _change_done(books, ctx, account, change, planned, actual, after, result, manual, now, notices)
    tally.ended += _end_grants(books, ctx, account, planned, actual, after, manual, now, notices, woken=woken)
    ends = [grant.ends_at for grant in books.of(account.id, GrantState.ACTIVE) if grant.ends_at is not None]
    if woken:
        ends.append(now)
    account.expected = after.model_dump(mode="json")
    # Manual steps still to do: what they will set is the bot's own doing, not drift, when it shows.
    account.plans = [planned.desired.model_dump(mode="json")] if manual else []
    account.due_at = min(ends) if ends else None
    account.attempts, account.last_error, account.escalated_at = 0, None, None
    account.updated_at = now
    return Step.DONE


def _change_done(
    books: Books,
    ctx: ServiceContext,
    account: PlatformAccount,
    change: PlatformChange,
    planned: Planned,
    actual: AccessState,
    after: AccessState,
    result: ApplyResult,
    manual: dict[str, AccessStep],
    now: datetime,
    notices: Notices,
) -> None:
    """A change the step applied (or one that waited for manual steps): applied once nothing of it waits for a hand."""
    session = books.session
    assert change.id is not None and change.request_id is not None and account.id is not None
    request = get_request(session=session, request_id=change.request_id)
    assert request is not None
    grant = next(
        (grant for grant in books.of_change(account.id, change.id) if grant.state == GrantState.APPLYING.value), None
    )
    if change.action == "remove":
        mine = list(manual.values())
    else:
        mine = [step for part, step in manual.items() if grant is not None and part in grant.parts]
    if change.status == ChangeStatus.AWAITING_MANUAL.value and open_steps_of_change(
        session=session, change_id=change.id
    ):
        return  # an admin still has steps of it to do
    fields: dict[str, Any] = {
        "desired": planned.desired.model_dump(mode="json"),
        "after": after.model_dump(mode="json"),
        "responses": list(result.responses),
        "manual_steps": [step.model_dump(mode="json") for step in mine],
        "error": None,
        "error_kind": None,
        "retry_at": None,
    }
    if change.before is None:
        fields["before"] = actual.model_dump(mode="json")
    notices.settle.add(request.id)  # type: ignore[arg-type]
    if mine:
        opened = open_step_tasks(session, ctx, request, change, tuple(mine), now=now)
        if change.status == ChangeStatus.APPLYING.value:
            session.flush()
            transition_change(session=session, change_id=change.id, event=ChangeEvent.WAIT_MANUAL, at=now, **fields)
            audit_change(
                session,
                AuditKind.AWAITING_MANUAL,
                request,
                change,
                now,
                before=actual.model_dump(mode="json"),
                after=after.model_dump(mode="json"),
                applied=[step.describe() for step in result.applied],
                manual=[step.describe() for step in mine],
                tasks=opened,
                responses=list(result.responses),
            )
        if change.action == "remove":
            _removal_took_effect(books, account, request, planned, now)
        notices.after(lambda: _tell_tasks(ctx, request.id, opened))  # type: ignore[arg-type]
        return
    session.flush()
    transition_change(session=session, change_id=change.id, event=ChangeEvent.SUCCEED, at=now, applied_at=now, **fields)
    audit_change(
        session,
        AuditKind.APPLIED,
        request,
        change,
        now,
        actor=request.decided_by or BOT_ACTOR,
        before=(change.before or actual.model_dump(mode="json")),
        desired=planned.desired.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
        steps=[step.describe() for step in result.applied],
        responses=list(result.responses),
        grant=grant.id if grant is not None else None,
    )
    if change.action == "remove":
        _removal_took_effect(books, account, request, planned, now)
        session.flush()
        view = ctx.view(session, request.id)  # type: ignore[arg-type]
        assert view is not None
        follow_ups = open_checklist(session, ctx, view, view.change(change.id), now=now)
        notices.after(lambda: _tell_tasks(ctx, request.id, follow_ups))  # type: ignore[arg-type]
    elif grant is not None:
        _activate(books, ctx, account, grant, request, now, notices)


def _activate(
    books: Books,
    ctx: ServiceContext,
    account: PlatformAccount,
    grant: Grant,
    request: AccessRequest,
    now: datetime,
    notices: Notices,
) -> None:
    """The grant is on the platform: its clock starts, and as a permanent grant it takes over what older grants
    covered of it (rule 3)."""
    session = books.session
    assert grant.id is not None and account.id is not None
    grant.state, grant.started_at, grant.updated_at = GrantState.ACTIVE.value, now, now
    older = books.of(account.id, *LIVE)
    if not grant.permanent:
        ends_at = grant.until_at or now + timedelta(seconds=grant.span_seconds or 0)
        reminders = reminder_times(ends_at=ends_at, offsets=ctx.elevation_settings.reminders, now=now)
        grant.ends_at = ends_at
        grant.remind_at = [moment.isoformat() for moment in reminders]
        grant.next_remind_at = reminders[0] if reminders else None
        notices.after(lambda: wake(ctx, min([ends_at, *reminders])))
        audit_grant(
            session,
            grant,
            AuditKind.ELEVATION_STARTED,
            actor=request.decided_by or BOT_ACTOR,
            at=now,
            ends_at=ends_at.isoformat(),
            reminders=grant.remind_at,
            covers=grant.parts,
            before=grant.before,
            stacked_on=[other.id for other in older if other.id != grant.id and not other.permanent],
        )
        return
    newcomer = Layer(id=grant.id, seq=grant.seq, parts=grant.parts, permanent=True)
    layers = [Layer(id=g.id, seq=g.seq, parts=g.parts, permanent=g.permanent) for g in older if g.id is not None]
    for other in older:
        remaining = taken_over(layers, newcomer).get(other.id)  # type: ignore[arg-type]
        if remaining is None:
            continue
        released = sorted(set(other.parts) - set(remaining))
        other.parts, other.updated_at = remaining, now
        if not remaining:
            _end(other, EndReason.SUPERSEDED, f"request #{request.id}", now)
        audit_grant(
            session,
            other,
            AuditKind.ELEVATION_RELEASED if remaining else AuditKind.ELEVATION_SUPERSEDED,
            actor=BOT_ACTOR,
            at=now,
            by_request=request.id,
            released=released,
        )


def _end(grant: Grant, reason: EndReason, by: str, now: datetime) -> None:
    grant.state = GrantState.ENDED.value
    grant.end_reason = reason.value
    grant.ended_at = now
    grant.ended_by = by
    grant.next_remind_at = None
    grant.updated_at = now


def _removal_took_effect(
    books: Books, account: PlatformAccount, request: AccessRequest, planned: Planned, now: datetime
) -> None:
    """Rule 6: every grant of the person on the platform ends, and what the removal leaves is the baseline."""
    assert account.id is not None
    for grant in books.of(account.id, *LIVE, GrantState.ENDING):
        _end(grant, EndReason.REMOVED, f"request #{request.id}", now)
        audit_grant(
            books.session,
            grant,
            AuditKind.ELEVATION_SUPERSEDED,
            actor=BOT_ACTOR,
            at=now,
            by_request=request.id,
            removed=True,
        )
    account.baseline = planned.desired.model_dump(mode="json")
    account.baseline_source = f"removal #{request.id}"


#: Where a grant whose end waits for manual steps keeps what the account held when those steps were asked for.
REVERT_FROM = "revert_from"


def _end_grants(
    books: Books,
    ctx: ServiceContext,
    account: PlatformAccount,
    planned: Planned,
    actual: AccessState,
    after: AccessState,
    manual: dict[str, AccessStep],
    now: datetime,
    notices: Notices,
    *,
    woken: bool,
) -> int:
    """The grants this step was planned to end are now ended on the platform too; those a manual step still
    concerns wait for it (for the next step to judge, when the account was `woken` meanwhile). Returns how many
    temporary grants ended."""
    session = books.session
    assert account.id is not None
    live = books.of(account.id, *LIVE)
    ended = 0
    for grant in books.of(account.id, GrantState.ENDING):
        assert grant.id is not None
        if grant.id not in planned.ending:
            continue
        waiting = [step for part, step in manual.items() if part in grant.parts]
        if waiting and woken:
            continue
        if waiting:
            # What the end takes away is measured from here: by the time an admin has done the steps and the grant
            # ends, the platform already shows the end.
            if REVERT_FROM not in grant.outcome:
                grant.outcome = {**grant.outcome, REVERT_FROM: actual.model_dump(mode="json")}
            request = get_request(session=session, request_id=grant.request_id)
            assert request is not None
            opened = open_step_tasks(session, ctx, request, None, tuple(waiting), now=now, ending=grant)
            notices.after(functools.partial(_tell_tasks, ctx, grant.request_id, opened))
            continue
        reverted, kept_for = {}, {}
        start = AccessState.model_validate(grant.outcome[REVERT_FROM]) if REVERT_FROM in grant.outcome else actual
        for part in grant.parts:
            # Membership is kept for any live grant that gives anything (rule 2); other parts for those covering them.
            holders = [other for other in live if (part in other.parts or (part == MEMBER and other.parts))]
            if holders:
                kept_for[part] = max(holders, key=lambda other: other.seq).id
            if value_of(start, part) != value_of(after, part):
                reverted[part] = [value_of(start, part), value_of(after, part)]
        outcome = {
            **grant.outcome,
            "reverted": reverted,
            "kept_for": kept_for,
            "before": start.model_dump(mode="json"),
            "after": after.model_dump(mode="json"),
            "manual": [],
        }
        grant.state, grant.ended_at, grant.outcome, grant.updated_at = GrantState.ENDED.value, now, outcome, now
        if grant.permanent:
            continue
        ended += 1
        if grant.end_reason == EndReason.EXPIRED.value and grant.ends_at is not None:
            metrics.reverted(grant.ends_at, now)
        audit_grant(
            session,
            grant,
            AuditKind.REVERTED,
            actor=grant.ended_by or BOT_ACTOR,
            at=now,
            expired_at=grant.ends_at.isoformat() if grant.ends_at else None,
            reason=grant.end_reason,
            reverted=reverted,
            kept_for=kept_for,
            drift=grant.outcome.get("drift", {}),
            before=start.model_dump(mode="json"),
            after=after.model_dump(mode="json"),
        )
        notices.ended.append(grant_view(grant, account))
    return ended


def _invited(
    books: Books,
    ctx: ServiceContext,
    account: PlatformAccount,
    change: PlatformChange,
    request: AccessRequest,
    notices: Notices,
) -> None:
    """The step created the member: where the platform invites people, their invitation is tracked until accepted."""
    if request.id is None:
        return
    opened = open_invitation(books.session, ctx, request, change.id, platform=account.platform, email=account.email)
    if opened is not None:
        request_id = request.id
        notices.after(lambda: _tell_tasks(ctx, request_id, [opened]))


def _tell_tasks(ctx: ServiceContext, request_id: int, task_ids: list[int]) -> None:
    if not task_ids:
        return
    view = ctx.load_view(request_id)
    if view is not None:
        ctx.notifier.manual_tasks_opened(view, tuple(task for task in view.tasks if task.id in task_ids))
