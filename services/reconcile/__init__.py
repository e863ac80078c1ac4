"""Reconciling one person's account on one platform: the one path every change to access takes.

Applying an approved change, reverting at expiry, revoking now, extending, retrying and taking over after a crash
all come here. Under a claim on the account (one worker at a time; storage.ledger), each step:

1. reads what the platform has;
2. plans, in one fenced transaction (`plan`): adopts drift into the baseline, ends grants whose time is up, takes
   the next queued change (a new grant, a removal, an extension), computes what the person should hold from the
   baseline and the live grants (domain.ledger.desired), and writes the plan down before anything is sent;
3. applies the difference and reads the platform again, the claim's lease renewed meanwhile;
4. records, in one fenced transaction (`record`): verifies, and marks grants active or ended, the change applied,
   waiting for manual steps or failed, and what the platform now has.

Messages go out after the commit. Every step is safe to run again at any moment: a retry and a take-over are the
same code, and a worker whose claim was taken over records nothing (the next step reads the platform instead).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from domain.access import AccessState, unexplained
from domain.ledger import LIVE
from domain.lifecycle import ChangeEvent, ChangeStatus
from platforms.base import ApplyResult, PlatformError
from services.context import ServiceContext, logger
from services.metrics import platform_call
from services.reconcile.batch import reconcile_batch
from services.reconcile.books import Books
from services.reconcile.failure import asked_to_wait, failed
from services.reconcile.outcome import record_step
from services.reconcile.plan import Planned, desired_now, has_work, plan
from services.reconcile.rails import check_guard_rails
from services.reconcile.report import Notices, Step, Tally, publish, tell_ended
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import reading, session_scope
from storage.ledger import (
    Claim,
    account_id,
    claim,
    claim_due_accounts,
    get_account,
    grants_of,
    hold,
    mark_due,
    next_change,
    release,
    with_changes,
)
from storage.models import PlatformAccount, PlatformChange, PlatformClaim
from storage.requests import transition_change

__all__ = ["Tally", "drain", "queue_change", "reconcile_due"]

#: The changes checked against the admin guard rails before they are applied.
GUARDED = ("grant", "remove")

#: How long a step waits for another change to a platform's admins before leaving its own to the sweep.
ADMIN_CLAIM_PATIENCE = 30.0


def queue_change(session: Session, ctx: ServiceContext, change: PlatformChange, *, email: str, now: datetime) -> int:
    """Queue an approved (or retried) change on its account, inside the caller's transaction; returns the account."""
    assert change.id is not None
    account = account_id(session=session, platform=change.platform, email=email, now=now)
    transition_change(
        session=session, change_id=change.id, event=ChangeEvent.QUEUE, at=now, account_id=account, queued_at=now
    )
    # The worker that queues it drains the account next (or the one holding it sees it when it lets go); should that
    # worker die first, the sweep picks the change up a lease later.
    mark_due(session=session, account_id=account, at=now + timedelta(seconds=ctx.elevation_settings.lease_seconds))
    return account


def drain(ctx: ServiceContext, account: int, *, worker: str, tally: Tally | None = None) -> Tally:
    """Work through everything the account has waiting, unless another worker is on it already (that one sees what
    was queued: in the transaction that records its last step, or in a look after letting go). Counts into `tally`
    when given."""
    tally = tally if tally is not None else Tally()
    while True:
        with session_scope(ctx.engine) as session:
            held = claim(
                session=session,
                table=PlatformAccount,
                key=account,
                token=_token(worker),
                now=ctx.clock.now(),
                lease=ctx.leases.lease,
            )
        if held is None:
            return tally
        tally.held += 1
        if _work(ctx, held, tally) is Step.FINISHED:
            return tally  # nothing was left when it let go, and whatever wakes the account now claims it
        with reading(ctx.engine) as session:
            row = get_account(session=session, account_id=account)
            if row is None or not has_work(
                session, row, ctx.clock.now(), next_change(session=session, account_id=account)
            ):
                return tally


def reconcile_due(ctx: ServiceContext, *, worker: str) -> Tally:
    """Claim, in batches, every account that needs reconciling now (a grant ended, a retry is due, a queued change
    nobody started, a claim whose holder died) and reconcile them: those with a change to apply one by one, the
    rest a platform's batch at a time."""
    tally = Tally()
    while True:
        with session_scope(ctx.engine) as session:
            claimed = claim_due_accounts(
                session=session,
                now=ctx.clock.now(),
                token=_token(worker),
                lease=ctx.leases.lease,
                limit=ctx.elevation_settings.batch,
            )
            busy = with_changes(session=session, account_ids=(int(due.claim.key) for due in claimed))
        if not claimed:
            tell_ended(ctx, tally.untold)
            tally.untold = []
            return tally
        batches: dict[str, list[tuple[str, Claim]]] = {}
        for platform, email, held in claimed:
            if held.key in busy or held.took_over is not None:
                _work(ctx, held, tally)
            else:
                batches.setdefault(platform, []).append((email, held))
        for platform, claims in batches.items():
            reconcile_batch(ctx, platform, claims, tally)
            # A change queued while the batch held its account waited for it: it is applied now, not a lease later.
            with reading(ctx.engine) as session:
                waiting = with_changes(session=session, account_ids=(int(held.key) for _, held in claims))
            for waiting_account in sorted(waiting):
                drain(ctx, waiting_account, worker=worker)


def _token(worker: str) -> str:
    return f"{worker}:{uuid.uuid4().hex}"


def _work(ctx: ServiceContext, held: Claim, tally: Tally) -> Step:
    """Run steps until the account has nothing left to do now, then let go of it; returns the last step's outcome."""
    waited_until = time.monotonic() + ADMIN_CLAIM_PATIENCE
    # A claim taken over may have been left mid-step (planned, perhaps applied, not recorded), and that step moved
    # the account's due time a lease on: the first step runs whatever the due time says, and finishes it now.
    anyway = held.took_over is not None
    with ctx.leases.holding(PlatformAccount, held):
        if held.took_over is not None:
            _record_take_over(ctx, held)
        while True:
            outcome = _step(ctx, held, tally, anyway=anyway)
            anyway = False
            if outcome is Step.WAIT and time.monotonic() < waited_until:
                # Another change to this platform's admins is being applied; it takes one platform call or so.
                time.sleep(0.05)
                continue
            if outcome is not Step.DONE:
                break
        if outcome is Step.LOST:
            logger.warning("claim on account %s lost to another worker; it carries on from the platform", held.key)
            return outcome
        if outcome is Step.FINISHED:
            return outcome  # let go by the step's own transaction
    with session_scope(ctx.engine) as session:
        release(session=session, table=PlatformAccount, key=held.key, fence=held.fence)
    return outcome


def _record_take_over(ctx: ServiceContext, held: Claim) -> None:
    with session_scope(ctx.engine) as session:
        account = hold(session=session, claim=held)
        if account is None:
            return
        logger.warning(
            "took over %s on %s from %s, whose lease ran out", account.email, account.platform, held.took_over
        )
        record(
            session=session,
            event=AuditKind.CLAIM_TAKEN_OVER,
            actor=BOT_ACTOR,
            at=ctx.clock.now(),
            platform=account.platform,
            target_email=account.email,
            detail={"from": held.took_over, "fence": held.fence},
        )


def _step(ctx: ServiceContext, held: Claim, tally: Tally, *, anyway: bool = False) -> Step:
    now = ctx.clock.now()
    with reading(ctx.engine) as session:
        account = get_account(session=session, account_id=int(held.key))
        if account is None:
            return Step.IDLE
        change = next_change(session=session, account_id=int(held.key))
        if not (anyway or has_work(session, account, now, change)):
            return Step.IDLE
        platform, email = account.platform, account.email
        # The guard rails judge a grant or a removal against what the ledger gives the person before it.
        guarded = change is not None and change.status == ChangeStatus.QUEUED.value and change.action in GUARDED
        live = grants_of(session=session, account_id=int(held.key), states=LIVE) if guarded else []
    client = ctx.platforms.get(platform)
    if client is None:
        return failed(ctx, held, tally, error=f"{platform}: this platform is no longer configured", kind="unavailable")
    try:
        with platform_call(platform, "read"), client.operation():
            actual = client.get_access(email)
    except PlatformError as error:
        return failed(ctx, held, tally, error=str(error), kind=error.kind, wait=asked_to_wait(error))
    admins: Claim | None = None
    refusal: str | None = None
    if guarded:
        assert change is not None
        checked = check_guard_rails(ctx, held, change, desired_now(ctx, account, live, actual))
        if checked is None:
            return Step.WAIT
        admins, refusal = checked
    if admins is None:
        return _plan_apply_record(ctx, held, tally, platform=platform, email=email, actual=actual, refusal=refusal)
    try:
        with ctx.leases.holding(PlatformClaim, admins):
            return _plan_apply_record(ctx, held, tally, platform=platform, email=email, actual=actual, refusal=refusal)
    finally:
        with session_scope(ctx.engine) as session:
            release(session=session, table=PlatformClaim, key=admins.key, fence=admins.fence)


def _plan_apply_record(
    ctx: ServiceContext,
    held: Claim,
    tally: Tally,
    *,
    platform: str,
    email: str,
    actual: AccessState,
    refusal: str | None,
) -> Step:
    notices = Notices()
    with session_scope(ctx.engine) as session:
        books = Books.hold(session, [held])
        if int(held.key) not in books.accounts:
            return Step.LOST
        planned: Planned | None = plan(books, ctx, int(held.key), actual=actual, refusal=refusal, notices=notices)
    publish(ctx, notices, tally)
    if planned is None:
        return Step.DONE
    client = ctx.platforms[platform]
    result, after = ApplyResult(), actual
    try:
        if planned.desired != actual:
            with platform_call(platform, "apply"), client.operation():
                result = client.apply(email, planned.desired)
            with platform_call(platform, "read"), client.operation():
                after = client.get_access(email)
        problems = [step.describe() for step in unexplained(after, planned.desired, result.manual)]
    except PlatformError as error:
        return failed(
            ctx, held, tally, error=_failure_text(error), kind=error.kind, partial=error, wait=asked_to_wait(error)
        )
    except Exception:
        logger.exception("reconciling %s on %s failed", email, platform)
        return failed(ctx, held, tally, error="internal error in accessbot; see its log", kind="internal")
    if problems:
        return failed(
            ctx,
            held,
            tally,
            error=f"verification failed: {platform} still differs from what was planned ({'; '.join(problems)})",
            kind="verification",
        )
    return record_step(ctx, held, tally, planned=planned, actual=actual, after=after, result=result)


def _failure_text(error: PlatformError) -> str:
    """The error, and for a change that stopped part-way, exactly what was and was not done."""
    text = str(error)
    if error.applied:
        text += f". Done before it stopped: {'; '.join(step.describe() for step in error.applied)}"
    if error.pending:
        text += f". Not done: {'; '.join(step.describe() for step in error.pending)}"
    return text
