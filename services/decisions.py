"""Approve, deny, retry: who may, and exactly-once effects under double clicks and races."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.lifecycle import RequestEvent, RequestStatus
from services import metrics
from services.apply import Started, carry_out, run_request, start_request
from services.approvers import decision_verdict, verdict_for
from services.context import ServiceContext, logger
from services.duties import any_duties, approval_refusal
from services.logs import for_request
from services.ports import Person
from services.views import RequestView
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.requests import add_approval, lock_request, skip_waiting_changes, transition_request


class Outcome(StrEnum):
    DONE = "done"
    RECORDED = "recorded"  # an approval counted; the rules need more before the request is approved
    REFUSED = "refused"  # policy says this person may not
    ALREADY_DECIDED = "already_decided"  # someone else got there first
    NOT_RETRYABLE = "not_retryable"
    EXPIRED = "expired"  # closed without a decision: nothing can usefully be approved
    NOT_FOUND = "not_found"


class DecisionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    reason: str = ""
    view: RequestView | None = None


@for_request
def approve(ctx: ServiceContext, request_id: int, *, approver: Person) -> DecisionResult:
    """Record an approval; the one that completes what the rules require approves the request and applies it."""
    # The platforms' duties read the ledger and may ask a platform for the approver's own role: before the lock,
    # never inside it (they do not depend on the approvals so far); and only for someone the policy lets decide, who
    # otherwise hears the policy's reason below. Everything that depends on the approvals so far is decided under
    # the lock; this read only routes the call (another approval may commit meanwhile). Without duties, there is
    # nothing to ask before the lock.
    if any_duties(ctx):
        current = ctx.load_view(request_id)
        if current is None:
            return DecisionResult(outcome=Outcome.NOT_FOUND)
        if current.status is not RequestStatus.PENDING:
            return DecisionResult(outcome=Outcome.ALREADY_DECIDED, view=current)
        if decision_verdict(ctx, current, approver).allowed and (refusal := approval_refusal(ctx, current, approver)):
            return _refused(ctx, current, approver, "approve", refusal)
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        # Approvals of one request are counted one approver at a time: the row is locked until this commits.
        if not lock_request(session=session, request_id=request_id):
            return DecisionResult(outcome=Outcome.NOT_FOUND)
        view = ctx.view(session, request_id)
        assert view is not None
        if view.status is not RequestStatus.PENDING:
            return DecisionResult(outcome=Outcome.ALREADY_DECIDED, view=view)
        # Decided under the same lock as the approval: no click gets in after the request's time is up.
        if (too_late := _too_late(view, now)) is not None:
            _expire(session, view, reason=too_late, at=now)
            closed = ctx.view(session, request_id)
        else:
            verdict = verdict_for(ctx, view, approver)
            started: Started | None = None
            if verdict.allowed:
                add_approval(session=session, request_id=request_id, approver_id=approver.slack_id, at=now)
                won = verdict.complete and transition_request(
                    session=session,
                    request_id=request_id,
                    event=RequestEvent.APPROVE,
                    at=now,
                    decided_by=approver.slack_id,
                    decided_at=now,
                )
                # The approval that completes the request starts it in the same transaction: no approved request
                # waits for a worker that may die before it starts.
                started = start_request(session, ctx, request_id, now=now) if won else None
                record(
                    session=session,
                    event=AuditKind.APPROVED if won else AuditKind.APPROVAL_RECORDED,
                    actor=approver.slack_id,
                    at=now,
                    request_id=request_id,
                    target_email=view.target_email,
                    detail={
                        "approvals": [*view.approvals, approver.slack_id],
                        "needed": view.requirements.approvals,
                        "rules": list(view.requirements.rules),
                    },
                )
            # One of several approvals: the card shows who approved and what is still needed.
            progressed = ctx.view(session, request_id) if verdict.allowed and not won else None
    if too_late is not None:
        assert closed is not None
        return _expired(ctx, closed, too_late)
    if not verdict.allowed:
        return _refused(ctx, view, approver, "approve", verdict.reason)
    if not won:
        assert progressed is not None
        logger.info("approval by %s recorded; more are needed", approver.slack_id)
        ctx.notifier.request_progressed(progressed)
        return DecisionResult(outcome=Outcome.RECORDED, view=progressed)
    logger.info("approved by %s", approver.slack_id)
    metrics.approved(view.created_at, now)
    assert started is not None  # the request was approved in the transaction that started it
    return DecisionResult(outcome=Outcome.DONE, view=carry_out(ctx, started))


def _too_late(view: RequestView, now: datetime) -> str | None:
    """Why a pending request can no longer be approved, if it cannot."""
    if view.until_at is not None and view.until_at <= now:
        return "its end time passed before it was approved"
    if view.expires_at is not None and view.expires_at <= now:
        return "nobody decided in time"
    return None


def expire(ctx: ServiceContext, view: RequestView, *, reason: str) -> DecisionResult:
    """Close a request nobody can usefully approve any more; the card and the requester are told."""
    with session_scope(ctx.engine) as session:
        won = _expire(session, view, reason=reason, at=ctx.clock.now())
        expired = ctx.view(session, view.id)
    assert expired is not None
    if not won:
        return DecisionResult(outcome=Outcome.ALREADY_DECIDED, view=expired)
    return _expired(ctx, expired, reason)


def _expire(session: Session, view: RequestView, *, reason: str, at: datetime) -> bool:
    won = transition_request(session=session, request_id=view.id, event=RequestEvent.EXPIRE, at=at, deny_reason=reason)
    if won:
        skip_waiting_changes(session=session, request_id=view.id, at=at)
        record(
            session=session,
            event=AuditKind.EXPIRED,
            actor=BOT_ACTOR,
            at=at,
            request_id=view.id,
            target_email=view.target_email,
            detail={"reason": reason},
        )
    return won


def _expired(ctx: ServiceContext, expired: RequestView, reason: str) -> DecisionResult:
    ctx.notifier.request_concluded(expired)
    return DecisionResult(
        outcome=Outcome.EXPIRED, reason=f"Request #{expired.id} expired: {reason}. Ask again.", view=expired
    )


@for_request
def deny(ctx: ServiceContext, request_id: int, *, approver: Person, reason: str | None) -> DecisionResult:
    """Deny a pending request; when the requester presses Deny on their own request, it is withdrawn."""
    view = ctx.load_view(request_id)
    withdrawing = view is not None and view.requester_id == approver.slack_id
    if not withdrawing:
        checked = _check(ctx, request_id, approver, action="deny")
        if checked.outcome is not Outcome.DONE:
            return checked
    elif view is not None and view.status is not RequestStatus.PENDING:
        return DecisionResult(outcome=Outcome.ALREADY_DECIDED, view=view)
    now = ctx.clock.now()
    event, kind = (RequestEvent.CANCEL, AuditKind.WITHDRAWN) if withdrawing else (RequestEvent.DENY, AuditKind.DENIED)
    with session_scope(ctx.engine) as session:
        won = transition_request(
            session=session,
            request_id=request_id,
            event=event,
            at=now,
            decided_by=approver.slack_id,
            decided_at=now,
            deny_reason=reason or None,
        )
        if won:
            skip_waiting_changes(session=session, request_id=request_id, at=now)
            record(
                session=session,
                event=kind,
                actor=approver.slack_id,
                at=now,
                request_id=request_id,
                target_email=view.target_email if view else None,
                detail={"reason": reason or ""},
            )
        decided = ctx.view(session, request_id)
    assert decided is not None
    if not won:
        return DecisionResult(outcome=Outcome.ALREADY_DECIDED, view=decided)
    ctx.notifier.request_concluded(decided)
    return DecisionResult(outcome=Outcome.DONE, view=decided)


@for_request
def retry(ctx: ServiceContext, request_id: int, *, actor: Person) -> DecisionResult:
    checked = _check(ctx, request_id, actor, action="retry", needs=RequestStatus.FAILED, else_=Outcome.NOT_RETRYABLE)
    if checked.outcome is not Outcome.DONE or checked.view is None:
        return checked
    view = checked.view
    if not view.retry_helps:
        return DecisionResult(
            outcome=Outcome.REFUSED,
            reason="Trying again cannot help: the platform lacks what this change needs (see the error on the card). "
            "Change the platform or the config, then make a new request.",
            view=view,
        )
    with session_scope(ctx.engine) as session:
        record(
            session=session,
            event=AuditKind.RETRIED,
            actor=actor.slack_id,
            at=ctx.clock.now(),
            request_id=request_id,
            target_email=view.target_email,
        )
    final = run_request(ctx, request_id)
    if final is None:
        return DecisionResult(outcome=Outcome.ALREADY_DECIDED, view=ctx.load_view(request_id))
    return DecisionResult(outcome=Outcome.DONE, view=final)


def check_may_decide(ctx: ServiceContext, request_id: int, person: Person) -> DecisionResult:
    """Before opening the deny form: is this request still open, and may this person deny (or withdraw) it?"""
    view = ctx.load_view(request_id)
    if view is not None and view.requester_id == person.slack_id:
        outcome = Outcome.DONE if view.status is RequestStatus.PENDING else Outcome.ALREADY_DECIDED
        return DecisionResult(outcome=outcome, view=view)
    return _check(ctx, request_id, person, action="deny", audit=False)


def _check(
    ctx: ServiceContext,
    request_id: int,
    person: Person,
    *,
    action: str,
    audit: bool = True,
    needs: RequestStatus = RequestStatus.PENDING,
    else_: Outcome = Outcome.ALREADY_DECIDED,
) -> DecisionResult:
    """Does the request exist, is it in the status `action` needs, and may `person` act on it?"""
    view = ctx.load_view(request_id)
    if view is None:
        return DecisionResult(outcome=Outcome.NOT_FOUND)
    if view.status is not needs:
        return DecisionResult(outcome=else_, view=view)
    verdict = decision_verdict(ctx, view, person)
    if not verdict.allowed:
        if audit:
            return _refused(ctx, view, person, action, verdict.reason)
        return DecisionResult(outcome=Outcome.REFUSED, reason=verdict.reason, view=view)
    return DecisionResult(outcome=Outcome.DONE, view=view)


def _refused(ctx: ServiceContext, view: RequestView, person: Person, action: str, reason: str) -> DecisionResult:
    _record_refusal(ctx, view, person, action, reason)
    return DecisionResult(outcome=Outcome.REFUSED, reason=reason, view=view)


def _record_refusal(ctx: ServiceContext, view: RequestView, person: Person, action: str, reason: str) -> None:
    with session_scope(ctx.engine) as session:
        record(
            session=session,
            event=AuditKind.APPROVAL_REFUSED,
            actor=person.slack_id,
            at=ctx.clock.now(),
            request_id=view.id,
            target_email=view.target_email,
            detail={"action": action, "reason": reason},
        )
