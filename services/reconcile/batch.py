"""Reconciling many accounts of one platform at once: what the sweep does when many grants end together.

The same plan and record as one account's step (services.reconcile), but each done once for the whole batch: one
read of the platform for every account, one planning transaction, one call that applies every difference (which the
platform spreads over its bulkhead, or takes in one go), one more read, one recording transaction, and so one
append to the audit chain per transaction rather than per account. What one account's platform call does never
holds the others' bookkeeping back: a failure is recorded for that account alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.access import AccessState, unexplained
from platforms.base import ApplyResult, PlatformError
from services.context import ServiceContext, logger
from services.metrics import count_failures, platform_call
from services.reconcile.books import Books
from services.reconcile.failure import asked_to_wait, failed_in
from services.reconcile.outcome import record_in
from services.reconcile.plan import Planned, plan
from services.reconcile.report import Notices, Step, Tally, publish
from storage.db import session_scope
from storage.ledger import Claim, release_all
from storage.models import PlatformAccount


def reconcile_batch(ctx: ServiceContext, platform: str, claims: Sequence[tuple[str, Claim]], tally: Tally) -> None:
    """Reconcile every claimed account (email, claim) of `platform`, a chunk at a time (the platform's `chunk`);
    queued changes are left to each account's own step. Each chunk's claims are let go once it is recorded, and all
    that are left when something fails (those taken over meanwhile are not touched)."""
    client = ctx.platforms.get(platform)
    size = (client.chunk if client is not None else None) or len(claims)
    done = 0
    with ctx.leases.holding(PlatformAccount, *(claim for _, claim in claims)):
        try:
            while done < len(claims):
                chunk = claims[done : done + size]
                _reconcile(ctx, platform, chunk, tally)
                _release(ctx, chunk)
                done += len(chunk)
        finally:
            _release(ctx, claims[done:])  # what a failure left: the chunk it stopped in and those not started


def _release(ctx: ServiceContext, claims: Sequence[tuple[str, Claim]]) -> None:
    if claims:
        with session_scope(ctx.engine) as session:
            release_all(session=session, claims=[claim for _, claim in claims])


def _reconcile(ctx: ServiceContext, platform: str, claims: Sequence[tuple[str, Claim]], tally: Tally) -> None:
    client = ctx.platforms.get(platform)
    notices = Notices()
    if client is None:
        with session_scope(ctx.engine) as session:
            books = Books.hold(session, [claim for _, claim in claims])
            for _, claim in claims:
                error = f"{platform}: this platform is no longer configured"
                failed_in(books, ctx, claim, tally, error=error, kind="unavailable", notices=notices)
        publish(ctx, notices)
        return
    with platform_call(platform, "read_many"):
        found = client.read_many([email for email, _ in claims])
    count_failures(platform, "read", found)
    planned: dict[str, tuple[Claim, AccessState, Planned]] = {}
    with session_scope(ctx.engine) as session:
        books = Books.hold(session, [claim for _, claim in claims])
        for email, claim in claims:
            if int(claim.key) not in books.accounts:
                continue  # taken over: the new holder carries on
            actual = found[email]
            if isinstance(actual, PlatformError):
                wait = asked_to_wait(actual)
                failed_in(books, ctx, claim, tally, error=str(actual), kind=actual.kind, notices=notices, wait=wait)
                continue
            steps = plan(books, ctx, int(claim.key), actual=actual, refusal=None, notices=notices, changes=False)
            if steps is not None:
                planned[email] = (claim, actual, steps)
    publish(ctx, notices)
    if not planned:
        return
    to_apply = {email: steps.desired for email, (_, actual, steps) in planned.items() if steps.desired != actual}
    results: dict[str, ApplyResult | PlatformError] = {}
    if to_apply:
        with platform_call(platform, "apply_many"):
            results = client.apply_many(to_apply)
        count_failures(platform, "apply", results)
    changed = [email for email, result in results.items() if not isinstance(result, PlatformError)]
    after: dict[str, AccessState | PlatformError] = {}
    if changed:
        with platform_call(platform, "read_many"):
            after = client.read_many(changed)
        count_failures(platform, "read", after)
    notices = Notices()
    with session_scope(ctx.engine) as session:
        books = Books.hold(session, [claim for claim, _, _ in planned.values()])
        for email, (claim, actual, steps) in planned.items():
            outcome = _outcome(email, actual, steps, results, after)
            if isinstance(outcome, PlatformError):
                wait = asked_to_wait(outcome)
                failed_in(books, ctx, claim, tally, error=str(outcome), kind=outcome.kind, notices=notices, wait=wait)
                continue
            result, now = outcome
            problems = [step.describe() for step in unexplained(now, steps.desired, result.manual)]
            if problems:
                error = f"verification failed: {platform} still differs from what was planned ({'; '.join(problems)})"
                failed_in(books, ctx, claim, tally, error=error, kind="verification", notices=notices)
                continue
            step = record_in(
                books, ctx, claim, tally, planned=steps, actual=actual, after=now, result=result, notices=notices
            )
            if step is Step.LOST:
                logger.warning("%s on %s: claim taken over meanwhile; the new holder carries on", email, platform)
    # The sweep tells of every grant its batches ended at once, in digests when they are many.
    tally.untold += notices.ended
    notices.ended = []
    publish(ctx, notices)


def _outcome(
    email: str,
    actual: AccessState,
    steps: Planned,
    results: dict[str, ApplyResult | PlatformError],
    after: dict[str, AccessState | PlatformError],
) -> tuple[ApplyResult, AccessState] | PlatformError:
    """What applying did for one account, and what the platform then showed."""
    if email not in results:
        return ApplyResult(), actual  # nothing to send: the platform already had it
    result = results[email]
    if isinstance(result, PlatformError):
        return result
    now = after[email]
    if isinstance(now, PlatformError):
        return now
    return result, now
