"""What a reconcile step that failed records: the change failed, or waiting for the platform's time; a revert retried
with backoff and escalated to the approvers, never dropped."""

from __future__ import annotations

import functools
import random
from datetime import datetime, timedelta
from typing import Any

from domain.access import AccessState
from domain.ledger import (
    GrantState,
)
from domain.lifecycle import ChangeEvent
from platforms.base import PlatformError, RateLimited, Throttled
from services.context import ServiceContext
from services.grants import load
from services.reconcile.audit import audit_change, audit_grant
from services.reconcile.books import Books
from services.reconcile.report import Notices, Step, Tally, publish, wake
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.ledger import Claim, next_change
from storage.models import AccessRequest, PlatformChange
from storage.requests import get_request, transition_change


def fail_change(
    books: Books,
    change: PlatformChange,
    request: AccessRequest,
    *,
    error: str,
    kind: str,
    actual: AccessState | None,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    """Mark a change failed (retryable unless the error says otherwise) and drop the grant it planned."""
    session = books.session
    assert change.id is not None
    for grant in books.of_change(change.account_id or 0, change.id):
        if grant.state == GrantState.APPLYING.value:
            grant.state, grant.ended_at, grant.updated_at = GrantState.FAILED.value, now, now
    session.flush()
    transition_change(
        session=session,
        change_id=change.id,
        event=ChangeEvent.FAIL,
        at=now,
        error=error,
        error_kind=kind,
        retry_at=None,
    )
    detail: dict[str, Any] = {"error": error, "kind": kind, **(extra or {})}
    if actual is not None:
        detail["before"] = actual.model_dump(mode="json")
    record(
        session=session,
        event=AuditKind.FAILED,
        actor=BOT_ACTOR,
        at=now,
        request_id=request.id,
        platform=change.platform,
        target_email=request.target_email,
        detail=detail,
    )


#: The longest wait a platform's Retry-After is honoured for; past it the account is tried again anyway.
MAX_WAIT_SECONDS = 24 * 3600.0


def failed(
    ctx: ServiceContext,
    held: Claim,
    tally: Tally,
    *,
    error: str,
    kind: str,
    partial: PlatformError | None = None,
    wait: float | None = None,
) -> Step:
    notices = Notices()
    with session_scope(ctx.engine) as session:
        books = Books.hold(session, [held])
        step = failed_in(books, ctx, held, tally, error=error, kind=kind, partial=partial, notices=notices, wait=wait)
    publish(ctx, notices, tally)
    return step


def failed_in(
    books: Books,
    ctx: ServiceContext,
    held: Claim,
    tally: Tally,
    *,
    error: str,
    kind: str,
    notices: Notices,
    partial: PlatformError | None = None,
    wait: float | None = None,
) -> Step:
    """The platform failed (or did not end up as planned), recorded inside the caller's transaction. The change in
    flight fails and can be retried; grants that were ending stay so, and the account is retried with exponential
    backoff, the approvers told after a few tries; nothing is dropped.

    Where the platform asked to wait (`wait`, its Retry-After in seconds), the account is tried again when it said,
    and the change in flight does not fail: it stays where it was, its card saying until when."""
    session = books.session
    settings = ctx.elevation_settings
    now = ctx.clock.now()
    account = books.accounts.get(int(held.key))
    if account is None:
        return Step.LOST
    assert account.id is not None
    attempts = account.attempts + 1
    # Exponential backoff with jitter, so that many accounts failing together do not retry in lockstep.
    delay = min(settings.retry_initial_seconds * 2 ** (attempts - 1), settings.retry_max_seconds)
    retry_at = now + timedelta(seconds=delay * random.uniform(1.0, 1.2))
    if wait is not None and wait > 0:
        retry_at = now + timedelta(seconds=min(wait, MAX_WAIT_SECONDS))
    ending = books.of(account.id, GrantState.ENDING)
    escalate = bool(ending) and attempts >= settings.escalate_after and account.escalated_at is None
    account.attempts, account.last_error, account.due_at = attempts, error, retry_at
    if escalate:
        account.escalated_at = now
    account.updated_at = now
    change = next_change(session=session, account_id=account.id)
    if change is not None:
        request = get_request(session=session, request_id=change.request_id)  # type: ignore[arg-type]
        assert request is not None
        extra: dict[str, Any] = {}
        if partial is not None and (partial.applied or partial.pending):
            extra = {
                "applied": [step.describe() for step in partial.applied],
                "not_applied": [step.describe() for step in partial.pending],
            }
        if wait is not None and wait > 0:
            _wait_for_platform(books, change, request, error=error, kind=kind, retry_at=retry_at, now=now)
        else:
            fail_change(books, change, request, error=error, kind=kind, actual=None, now=now, extra=extra)
        notices.settle.add(request.id)  # type: ignore[arg-type]
    for grant in ending:
        audit_grant(
            session,
            grant,
            AuditKind.REVERT_FAILED,
            actor=BOT_ACTOR,
            at=now,
            error=error,
            kind=kind,
            attempt=attempts,
            retry_at=retry_at.isoformat(),
        )
        if escalate:
            audit_grant(session, grant, AuditKind.REVERT_ESCALATED, actor=BOT_ACTOR, at=now, attempts=attempts)
        if not grant.permanent and grant.id is not None:
            notices.after(functools.partial(_tell_revert_failed, ctx, grant.id, escalate))
    tally.failed += 1
    notices.after(functools.partial(wake, ctx, retry_at))
    return Step.FAILED


def _wait_for_platform(
    books: Books,
    change: PlatformChange,
    request: AccessRequest,
    *,
    error: str,
    kind: str,
    retry_at: datetime,
    now: datetime,
) -> None:
    """The platform asked to wait, or its rate limit has no room yet: the change keeps its place (and its planned
    grant), and says until when."""
    change.retry_at, change.error, change.error_kind, change.updated_at = retry_at, error, kind, now
    books.session.flush()  # before anything expires the session's rows
    audit_change(
        books.session, AuditKind.ASKED_TO_WAIT, request, change, now, error=error, retry_at=retry_at.isoformat()
    )


def asked_to_wait(error: PlatformError) -> float | None:
    """How long the platform asked to wait (its Retry-After), where it did."""
    return error.retry_after if isinstance(error, RateLimited | Throttled) else None


def _tell_revert_failed(ctx: ServiceContext, grant_id: int, escalate: bool) -> None:
    found = load(ctx, grant_id)
    if found is not None:
        ctx.notifier.elevation_revert_failed(found[1], found[0], escalate=escalate)
