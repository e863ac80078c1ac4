"""What people can do with running temporary access: ask for more time, end it now, or keep it until it ends.

An extension is judged as a grant of the same roles and scopes (services.grants): it is made at once only when the
person asking could approve such a grant alone; otherwise their click counts as one approval of an extension
request that goes to the other approvers. Keep and Revoke now, the two answers to a reminder, are one decision:
whichever is pressed first wins, and the other button is told who answered.
"""

from __future__ import annotations

import time
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.ledger import GrantState
from domain.lifecycle import ChangeStatus, RequestEvent, RequestStatus
from domain.policy import Approver, RequestFacts, Verdict, approval_verdict, pending_deadlines
from services.apply import run_request
from services.approvers import decision_verdict, eligible_approvers, members
from services.context import ServiceContext
from services.grants import extended_end, extension_refusal, extension_requirements, load
from services.logs import worker_name
from services.ports import Person
from services.reconcile import drain
from services.submit import announce, store
from services.views import GrantView, RequestView
from storage.audit import AuditKind, record
from storage.db import session_scope
from storage.ledger import answer_reminder, get_account, get_grant, mark_due, revoke
from storage.models import AccessRequest, PlatformChange
from storage.requests import add_approval, transition_request


class GrantOutcome(StrEnum):
    EXTENDED = "extended"  # done at once
    EXTENSION_REQUESTED = "extension_requested"  # a request waits for approval
    REVOKED = "revoked"
    REVOKE_PENDING = "revoke_pending"  # the revert failed for now; the bot keeps retrying it
    REVOKING = "revoking"  # ended in the ledger; the platform follows once a manual step or another change is done
    KEPT = "kept"
    ANSWERED = "answered"  # the other button of the reminder was pressed first
    REFUSED = "refused"
    ENDED = "ended"  # nothing to do: it already ended
    NOT_FOUND = "not_found"


class GrantResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: GrantOutcome
    reason: str = ""
    grant: GrantView | None = None
    request: RequestView | None = None  # the extension request, when one was made


def may_manage(ctx: ServiceContext, request: RequestView, person: Person) -> Verdict:
    """The requester, the person it is for and the approvers may extend, revoke or keep temporary access."""
    if person.slack_id in (request.requester_id, request.target_slack_id) or ctx.policy.people.same(
        person.email, request.target_email
    ):
        return Verdict.allow()
    verdict = decision_verdict(ctx, request, person)
    return (
        verdict
        if verdict.allowed
        else Verdict.refuse(
            "Only the requester, the person it is for and the approvers can change this temporary access."
        )
    )


def _managed(ctx: ServiceContext, grant_id: int, person: Person) -> tuple[GrantView, RequestView] | GrantResult:
    """The active grant and its request when `person` may act on it; else the answer that says why not."""
    found = load(ctx, grant_id)
    if found is None:
        return GrantResult(outcome=GrantOutcome.NOT_FOUND)
    grant, request = found
    if grant.state is not GrantState.ACTIVE:
        return _settled_answer(grant, person)
    allowed = may_manage(ctx, request, person)
    if not allowed.allowed:
        return GrantResult(outcome=GrantOutcome.REFUSED, reason=allowed.reason, grant=grant)
    return found


def _settled_answer(grant: GrantView, person: Person) -> GrantResult:
    """What to tell the loser of a Keep / Revoke race (who answered, and how), or someone acting on access that has
    ended."""
    if grant.answer is not None and grant.answered_by not in (None, person.slack_id):
        return GrantResult(outcome=GrantOutcome.ANSWERED, grant=grant)
    return GrantResult(outcome=GrantOutcome.ENDED, grant=grant)


def ask_extension(
    ctx: ServiceContext, grant_id: int, *, span: timedelta, reason: str, person: Person, text: str = ""
) -> GrantResult:
    """Extend at once when this person may approve such a grant alone, else open a request for approval."""
    managed = _managed(ctx, grant_id, person)
    if isinstance(managed, GrantResult):
        return managed
    grant, request = managed
    refusal = extension_refusal(ctx, grant, request, new_end=extended_end(grant, span), now=ctx.clock.now())
    if refusal is not None:
        return GrantResult(outcome=GrantOutcome.REFUSED, reason=refusal, grant=grant)
    requirements = extension_requirements(ctx, grant)
    as_approver = approval_verdict(
        request=RequestFacts(
            requester_id=request.requester_id,
            target_email=request.target_email,
            target_slack_id=request.target_slack_id,
            platforms=(grant.platform,),
        ),
        requirements=requirements,
        approver=Approver(slack_id=person.slack_id, email=person.email, is_workspace_admin=person.is_workspace_admin),
        mailboxes=ctx.policy.people,
        eligible=eligible_approvers(ctx, (grant.platform,), requirements),
        required_members=[members(ctx, group) for group in requirements.require_one_of],
    )
    self_service = (
        ctx.settings[grant.platform].allow_self_extension
        and person.slack_id in (request.requester_id, request.target_slack_id)
        and requirements.approvals == 1
        and not requirements.require_one_of
        and not request.break_glass
    )
    at_once = self_service or (as_approver.allowed and as_approver.complete)
    approvals = (person.slack_id,) if at_once or as_approver.allowed else ()
    extension = _store_extension(ctx, grant, request, span=span, reason=reason, person=person, text=text)
    with session_scope(ctx.engine) as session:
        for approver in approvals:
            add_approval(session=session, request_id=extension.id, approver_id=approver, at=ctx.clock.now())
        if at_once:
            transition_request(
                session=session,
                request_id=extension.id,
                event=RequestEvent.APPROVE,
                at=ctx.clock.now(),
                decided_by=person.slack_id,
                decided_at=ctx.clock.now(),
            )
        if approvals:
            record(
                session=session,
                event=AuditKind.APPROVED if at_once else AuditKind.APPROVAL_RECORDED,
                actor=person.slack_id,
                at=ctx.clock.now(),
                request_id=extension.id,
                target_email=grant.target_email,
                detail={"approvals": list(approvals), "needed": requirements.approvals, "self_service": self_service},
            )
    if not at_once:
        waiting = ctx.load_view(extension.id)
        assert waiting is not None
        return GrantResult(outcome=GrantOutcome.EXTENSION_REQUESTED, grant=grant, request=announce(ctx, waiting))
    final = run_request(ctx, extension.id) or ctx.load_view(extension.id)
    extended = load(ctx, grant_id)
    if final is None or final.status is not RequestStatus.APPLIED or extended is None:
        error = final.changes[0].error if final is not None and final.changes else None
        return GrantResult(outcome=GrantOutcome.REFUSED, reason=error or "", grant=grant, request=final)
    return GrantResult(outcome=GrantOutcome.EXTENDED, grant=extended[0], request=final)


def _store_extension(
    ctx: ServiceContext,
    grant: GrantView,
    request: RequestView,
    *,
    span: timedelta,
    reason: str,
    person: Person,
    text: str,
) -> RequestView:
    now = ctx.clock.now()
    remind_at, expires_at = pending_deadlines(ctx.policy, now)
    extension = AccessRequest(
        verb="extend",
        status=RequestStatus.PENDING.value,
        requester_id=person.slack_id,
        requester_email=person.email,
        target_email=request.target_email,
        target_slack_id=request.target_slack_id,
        reason=reason,
        ticket=request.ticket,
        command_text=text,
        duration_seconds=int(span.total_seconds()),
        created_at=now,
        updated_at=now,
        requirements=extension_requirements(ctx, grant).model_dump(mode="json"),
        break_glass=request.break_glass,
        remind_at=remind_at,
        expires_at=expires_at,
    )
    change = PlatformChange(
        platform=grant.platform,
        action="extend",
        grant_id=grant.id,
        status=ChangeStatus.WAITING.value,
        updated_at=now,
    )
    with session_scope(ctx.engine) as session:
        return store(
            session,
            ctx,
            extension,
            [change],
            actor=person.slack_id,
            detail={"extends": grant.id, "by": span.total_seconds(), "reason": reason},
        )


def end_now(ctx: ServiceContext, grant_id: int, *, person: Person) -> GrantResult:
    """End the temporary access now ("I'm done") and revert at once."""
    managed = _managed(ctx, grant_id, person)
    if isinstance(managed, GrantResult):
        return managed
    grant, _ = managed
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        if not revoke(
            session=session, grant_id=grant_id, round_=max(grant.reminders_sent, 1), by=person.slack_id, now=now
        ):
            won = None
        else:
            won = grant
            mark_due(session=session, account_id=_account_of(ctx, grant_id), at=now)
            record(
                session=session,
                event=AuditKind.ELEVATION_REVOKED_EARLY,
                actor=person.slack_id,
                at=now,
                request_id=grant.request_id,
                platform=grant.platform,
                target_email=grant.target_email,
                detail={"grant": grant.id, "was_to_end": grant.ends_at.isoformat() if grant.ends_at else None},
            )
    if won is None:
        latest = load(ctx, grant_id)
        return _settled_answer(latest[0], person) if latest else GrantResult(outcome=GrantOutcome.NOT_FOUND)
    current, busy = _revert_now(ctx, grant_id)
    current = current or grant
    if current.state is GrantState.ENDED:
        return GrantResult(outcome=GrantOutcome.REVOKED, grant=current)
    if current.last_error:
        return GrantResult(outcome=GrantOutcome.REVOKE_PENDING, reason=current.last_error, grant=current)
    waits = "the change on its way to this account is done" if busy else "its manual steps are done"
    return GrantResult(outcome=GrantOutcome.REVOKING, reason=waits, grant=current)


def _revert_now(ctx: ServiceContext, grant_id: int) -> tuple[GrantView | None, bool]:
    """Reconcile the grant's account now. Should another worker hold it (a change on its way, a sweep), that one
    takes the revoke in its next step: wait for it, a lease at most, rather than answer before anything happened.
    An account found free is drained again: its holder may have let it go after this drain tried to claim it."""
    account = _account_of(ctx, grant_id)
    patience = time.monotonic() + ctx.elevation_settings.lease_seconds
    while True:
        drained = drain(ctx, account, worker=worker_name()).held > 0
        latest = load(ctx, grant_id)
        current = latest[0] if latest else None
        if current is None or current.state is GrantState.ENDED or current.last_error:
            return current, False
        with Session(ctx.engine) as session:
            row = get_account(session=session, account_id=account)
            busy = row is not None and row.claimed_by is not None
        if drained or time.monotonic() > patience:
            return current, busy
        time.sleep(0.05)


def _account_of(ctx: ServiceContext, grant_id: int) -> int:
    with Session(ctx.engine) as session:
        row = get_grant(session=session, grant_id=grant_id)
        assert row is not None
        return row.account_id


def keep(ctx: ServiceContext, grant_id: int, *, person: Person) -> GrantResult:
    """ "Keep until expiry": nothing changes; the answer to the reminder is recorded, unless Revoke won."""
    managed = _managed(ctx, grant_id, person)
    if isinstance(managed, GrantResult):
        return managed
    grant, _ = managed
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        kept = answer_reminder(
            session=session,
            grant_id=grant_id,
            round_=max(grant.reminders_sent, 1),
            answer="kept",
            by=person.slack_id,
            now=now,
        )
        if kept:
            record(
                session=session,
                event=AuditKind.ELEVATION_KEPT,
                actor=person.slack_id,
                at=now,
                request_id=grant.request_id,
                platform=grant.platform,
                target_email=grant.target_email,
                detail={"grant": grant.id, "ends_at": grant.ends_at.isoformat() if grant.ends_at else None},
            )
    latest = load(ctx, grant_id)
    if not kept:
        return _settled_answer(latest[0], person) if latest else GrantResult(outcome=GrantOutcome.NOT_FOUND)
    return GrantResult(outcome=GrantOutcome.KEPT, grant=latest[0] if latest else grant)
