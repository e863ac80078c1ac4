"""The planning transaction of a reconcile step: everything decided and written down before the platform is called."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.access import AccessChange, AccessState, RemovalMethod, removed_state
from domain.catalog import RoleCatalog
from domain.ledger import (
    LIVE,
    EndReason,
    GrantState,
    Layer,
    Value,
    adopt,
    covered,
    desired,
    drift,
    released,
    reminder_times,
    value_of,
)
from domain.lifecycle import ChangeEvent, ChangeStatus
from services.context import ServiceContext
from services.grants import extension_refusal, load
from services.reconcile.books import Books
from services.reconcile.failure import fail_change
from services.reconcile.report import Notices, wake
from services.views import DriftReport, grant_view
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.ledger import grants_of, next_change
from storage.models import AccessRequest, Grant, PlatformAccount, PlatformChange
from storage.requests import get_request, transition_change


class Planned(BaseModel):
    """What a step sends to the platform: the whole access the person should end with, and what it is for."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    desired: AccessState
    change_id: int | None = None
    request_id: int | None = None
    removal: RemovalMethod | None = None
    ending: tuple[int, ...] = ()  # the grants this step ends; one revoked while the step runs waits for the next
    # When the account is looked at again should this step never record (the plan moves its due time there). A due
    # time found earlier when the step records means someone woke the account meanwhile.
    looks_again_at: datetime


def state(data: dict[str, Any] | None) -> AccessState | None:
    return AccessState.model_validate(data) if data is not None else None


def layers(grants: list[Grant]) -> list[Layer]:
    return [
        Layer(id=grant.id, seq=grant.seq, parts=grant.parts, permanent=grant.permanent)
        for grant in grants
        if GrantState(grant.state) in LIVE
    ]


def has_work(session: Session, account: PlatformAccount, now: datetime, waiting: PlatformChange | None) -> bool:
    """Whether the account needs a step now: it is due (a retry, a revoke, a queued change), has a change queued or
    in flight (`waiting`: its `next_change`), or holds a grant whose time is up."""
    assert account.id is not None
    if account.due_at is not None and account.due_at <= now:
        return True
    # A change queued or in flight, unless the platform asked to wait: then not before the time it gave.
    if waiting is not None and (waiting.retry_at is None or waiting.retry_at <= now):
        return True
    return any(
        grant.ends_at is not None and grant.ends_at <= now
        for grant in grants_of(session=session, account_id=account.id, states=[GrantState.ACTIVE])
    )


def desired_now(ctx: ServiceContext, account: PlatformAccount, live: list[Grant], actual: AccessState) -> AccessState:
    """What the person should hold by the ledger as it stands, from the account and its `live` grants (what the
    platform has stands in for a baseline the bot has not taken yet)."""
    baseline = state(account.baseline) or actual
    return desired(baseline, layers(live), default_account_role=ctx.catalogs[account.platform].default_account_role)


def change_target(catalog: RoleCatalog, change: PlatformChange, before: AccessState) -> AccessState:
    """What the person would hold once `change` is applied on top of `before`."""
    if change.action == "remove":
        return removed_state(RemovalMethod(change.method or RemovalMethod.DELETE.value), before, catalog)
    if change.action == "grant" and change.grant is not None:
        return AccessChange.model_validate(change.grant).desired_from(before, catalog)
    return before


def plan(
    books: Books,
    ctx: ServiceContext,
    account_id: int,
    *,
    actual: AccessState,
    refusal: str | None,
    notices: Notices,
    changes: bool = True,
) -> Planned | None:
    """The planning transaction, on a held account. Returns what to apply, or None when nothing is left to send or
    verify (the step was an extension, or a refused change, or the account already is as the ledger says).
    `changes` False leaves queued changes for the account's own step (a batch of reverts plans ends only)."""
    session = books.session
    account = books.accounts[account_id]
    now = ctx.clock.now()
    catalog = ctx.catalogs[account.platform]
    if account.expected is None:
        account.baseline = account.expected = actual.model_dump(mode="json")
        account.baseline_source = "first seen"
    baseline, expected = state(account.baseline), state(account.expected)
    assert baseline is not None and expected is not None
    drifted = drift(actual, expected, [AccessState.model_validate(plan) for plan in account.plans])
    if drifted:
        baseline = adopt(baseline, drifted)
        account.baseline = baseline.model_dump(mode="json")
        account.baseline_source = "changed outside accessbot"
        account.expected = actual.model_dump(mode="json")
        _release_drifted(books, ctx, account, drifted, now=now, notices=notices)
    _end_expired(books, account_id, now=now)
    change = next_change(session=session, account_id=account_id) if changes else None
    planned_change: PlatformChange | None = None
    removal: RemovalMethod | None = None
    if change is not None:
        request = get_request(session=session, request_id=change.request_id)  # type: ignore[arg-type]
        assert request is not None and change.id is not None
        if change.status == ChangeStatus.QUEUED.value:
            session.flush()  # what was changed in memory so far, before the conditional update reloads the rows
            _start(session, change, request, actual=actual, now=now)
        if refusal is not None:
            fail_change(books, change, request, error=refusal, kind="refused", actual=actual, now=now)
            notices.settle.add(change.request_id)  # type: ignore[arg-type]
        elif change.action == "extend":
            _extend(books, ctx, change, request, now=now, notices=notices)
            notices.settle.add(change.request_id)  # type: ignore[arg-type]
        else:
            planned_change = change
            if change.action == "remove":
                removal = RemovalMethod(change.method or RemovalMethod.DELETE.value)
            elif not any(grant.state == GrantState.APPLYING.value for grant in books.of_change(account_id, change.id)):
                live = books.of(account_id, *LIVE)
                before = desired(baseline, layers(live), default_account_role=catalog.default_account_role)
                _new_grant(books, account, change, request, before=before, catalog=catalog, now=now)
    grants = books.of(account_id, *LIVE, GrantState.ENDING)
    target = desired(baseline, layers(grants), default_account_role=catalog.default_account_role)
    if removal is not None:
        target = removed_state(removal, target, catalog)
    ending = [grant.id for grant in grants if grant.state == GrantState.ENDING.value]
    waiting = books.awaiting.get(account_id, [])
    if planned_change is None and not ending and not waiting and target == actual:
        # Nothing to send and nothing to verify: the account is as the ledger says.
        account.plans = []
        account.expected = actual.model_dump(mode="json")
        account.due_at = next_end(grants)
        account.attempts, account.last_error, account.escalated_at = 0, None, None
        account.updated_at = now
        return None
    if target.model_dump(mode="json") not in account.plans:
        account.plans = [*account.plans, target.model_dump(mode="json")]
    account.updated_at = now
    # This step takes the wake-up that brought it here: one that comes while it is on its way (a revoke, a manual
    # step done) moves the due time earlier again, and its record sees that.
    account.due_at = now + ctx.leases.lease
    request_id = planned_change.request_id if planned_change is not None else None
    # The plan is part of the evidence of every request it carries out: the change's, and each ending grant's.
    concerned: list[int | None] = [request_id] if request_id is not None else []
    concerned += [grant.request_id for grant in grants if grant.state == GrantState.ENDING.value]
    detail = {
        "fence": account.fence,
        "found": actual.model_dump(mode="json"),
        "baseline": account.baseline,
        "grants": {str(grant.id): grant.parts for grant in grants if GrantState(grant.state) in LIVE},
        "ending": ending,
        "desired": target.model_dump(mode="json"),
        "change": planned_change.id if planned_change is not None else None,
    }
    for concerning in dict.fromkeys(concerned or [None]):
        record(
            session=session,
            event=AuditKind.RECONCILE_PLANNED,
            actor=BOT_ACTOR,
            at=now,
            request_id=concerning,
            platform=account.platform,
            target_email=account.email,
            detail=detail,
        )
    return Planned(
        desired=target,
        change_id=planned_change.id if planned_change is not None else None,
        request_id=request_id,
        removal=removal,
        ending=tuple(ending),
        looks_again_at=account.due_at,
    )


def next_end(grants: list[Grant]) -> datetime | None:
    ends = [grant.ends_at for grant in grants if grant.state == GrantState.ACTIVE.value and grant.ends_at is not None]
    return min(ends) if ends else None


def _end_expired(books: Books, account_id: int, *, now: datetime) -> None:
    for grant in books.of(account_id, GrantState.ACTIVE):
        if grant.ends_at is not None and grant.ends_at <= now:
            grant.state = GrantState.ENDING.value
            grant.end_reason = EndReason.EXPIRED.value
            grant.ended_by = BOT_ACTOR
            grant.next_remind_at = None
            grant.updated_at = now


def _start(
    session: Session, change: PlatformChange, request: AccessRequest, *, actual: AccessState, now: datetime
) -> None:
    assert change.id is not None
    transition_change(
        session=session,
        change_id=change.id,
        event=ChangeEvent.START,
        at=now,
        attempts=change.attempts + 1,
        # The first attempt's reading is what the account was before; a retry must not replace it.
        before=change.before if change.before is not None else actual.model_dump(mode="json"),
    )
    record(
        session=session,
        event=AuditKind.APPLY_STARTED,
        actor=request.decided_by or BOT_ACTOR,
        at=now,
        request_id=request.id,
        platform=change.platform,
        target_email=request.target_email,
        detail={"attempt": change.attempts + 1},
    )


def _new_grant(
    books: Books,
    account: PlatformAccount,
    change: PlatformChange,
    request: AccessRequest,
    *,
    before: AccessState,
    catalog: RoleCatalog,
    now: datetime,
) -> Grant:
    assert change.grant is not None and account.id is not None and request.id is not None
    parts = covered(AccessChange.model_validate(change.grant), before, catalog)
    seq = account.next_seq
    account.next_seq = seq + 1
    return books.add(
        Grant(
            account_id=account.id,
            platform=account.platform,
            email=account.email,
            request_id=request.id,
            change_id=change.id,
            seq=seq,
            parts=parts,
            before={part: value_of(before, part) for part in parts},
            state=GrantState.APPLYING.value,
            permanent=request.duration_seconds is None and request.until_at is None,
            span_seconds=request.duration_seconds,
            until_at=request.until_at,
            planned_at=now,
            updated_at=now,
        )
    )


def _release_drifted(
    books: Books,
    ctx: ServiceContext,
    account: PlatformAccount,
    drifted: dict[str, tuple[Value, Value]],
    *,
    now: datetime,
    notices: Notices,
) -> None:
    """Rule 5: a change outside the bot owns the parts it changed; grants stop covering them, the approvers hear."""
    assert account.id is not None
    live = books.of(account.id, *LIVE)
    remaining = released(layers(live), drifted)
    touched = [grant for grant in live if grant.id in remaining]
    for grant in touched:
        assert grant.id is not None
        lost = {part: list(drifted[part]) for part in grant.parts if part in drifted}
        grant.parts = remaining[grant.id]
        grant.outcome = {**grant.outcome, "drift": lost}
        grant.updated_at = now
        if not grant.parts:
            grant.state = GrantState.ENDED.value
            grant.end_reason = EndReason.DRIFT.value
            grant.ended_at = now
            grant.ended_by = BOT_ACTOR
            grant.next_remind_at = None
    record(
        session=books.session,
        event=AuditKind.DRIFT_DETECTED,
        actor=BOT_ACTOR,
        at=now,
        request_id=touched[0].request_id if touched else None,
        platform=account.platform,
        target_email=account.email,
        detail={
            "drift": {part: list(change) for part, change in drifted.items()},
            "grants": [grant.id for grant in touched],
            "baseline": account.baseline,
        },
    )
    platform, email, ids = account.platform, account.email, [grant.id for grant in touched if grant.id is not None]
    notices.after(lambda: _tell_drift(ctx, platform, email, drifted, ids))


def _tell_drift(
    ctx: ServiceContext, platform: str, email: str, drifted: dict[str, tuple[Value, Value]], grant_ids: list[int]
) -> None:
    settings = ctx.settings.get(platform)
    views = tuple(found[0] for grant_id in grant_ids if (found := load(ctx, grant_id)) is not None)
    ctx.notifier.drift_found(
        DriftReport(
            platform=platform,
            platform_label=(settings.label if settings and settings.label else platform),
            target_email=email,
            changes=drifted,
            approvers=settings.approvers if settings else (),
            grants=views,
        )
    )


def _extend(
    books: Books,
    ctx: ServiceContext,
    change: PlatformChange,
    request: AccessRequest,
    *,
    now: datetime,
    notices: Notices,
) -> None:
    """An approved extension moves its grant's end, if the grant's rules still allow it, counted from its start."""
    session = books.session
    assert change.id is not None and request.id is not None
    grant = session.get(Grant, change.grant_id) if change.grant_id is not None else None
    span = timedelta(seconds=request.duration_seconds or 0)
    refusal = "The temporary access already ended, so there is nothing to extend."
    if grant is not None and grant.ends_at is not None:
        original = ctx.view(session, grant.request_id)
        assert original is not None
        refusal = extension_refusal(ctx, grant_view(grant), original, new_end=grant.ends_at + span, now=now) or ""
    if refusal:
        fail_change(books, change, request, error=refusal, kind="refused", actual=None, now=now)
        return
    assert grant is not None and grant.id is not None and grant.ends_at is not None
    was, ends_at = grant.ends_at, grant.ends_at + span
    reminders = reminder_times(ends_at=ends_at, offsets=ctx.elevation_settings.reminders, now=now)
    grant.ends_at = ends_at
    grant.remind_at = [moment.isoformat() for moment in reminders]
    grant.next_remind_at = reminders[0] if reminders else None
    grant.updated_at = now
    # The account stays due at the old end, if that was its next moment: that step finds nothing ended and moves
    # its due time to the new end.
    actor = request.decided_by or BOT_ACTOR
    record(
        session=session,
        event=AuditKind.ELEVATION_EXTENDED,
        actor=actor,
        at=now,
        request_id=grant.request_id,
        platform=grant.platform,
        target_email=grant.email,
        detail={
            "grant": grant.id,
            "by_request": request.id,
            "from": was.isoformat(),
            "to": ends_at.isoformat(),
        },
    )
    session.flush()
    transition_change(
        session=session,
        change_id=change.id,
        event=ChangeEvent.SUCCEED,
        at=now,
        applied_at=now,
        error=None,
        error_kind=None,
    )
    record(
        session=session,
        event=AuditKind.APPLIED,
        actor=actor,
        at=now,
        request_id=request.id,
        platform=change.platform,
        target_email=request.target_email,
        detail={"grant": grant.id, "ends_at": ends_at.isoformat()},
    )
    grant_id = grant.id
    notices.after(lambda: _tell_extended(ctx, grant_id))
    notices.after(lambda: wake(ctx, ends_at))


def _tell_extended(ctx: ServiceContext, grant_id: int) -> None:
    found = load(ctx, grant_id)
    if found is not None:
        ctx.notifier.elevation_extended(found[1], found[0])
