"""The periodic sweep: everything due, done exactly once however many bot processes sweep.

It catches what was missed while the bot was down as well as what is due now: accounts to reconcile (a temporary
grant ended, a revert to retry, a change nobody finished, a claim whose holder died), reminders, undecided
requests, open manual tasks, invitations to ask the platforms about, the scheduled access review, and Slack
deliveries too old to come again. Everything is claimed with conditional updates, so several processes sweeping one
database never do a thing twice.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from services.context import ServiceContext, logger
from services.deliveries import forget_old
from services.invitations import check_invitations
from services.logs import worker_name
from services.reconcile import reconcile_due
from services.recovery import recover
from services.reminders import remind_ending_grants, remind_open_tasks, undecided
from services.reviews import run_due
from storage.ledger import next_due, next_reminder


class SweepReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    reminded: int = 0
    reverted: int = 0  # temporary grants that ended and were verified
    failed: int = 0  # reconcile steps that failed (retried later)
    tasks_reminded: int = 0
    pending_reminded: int = 0
    expired: int = 0
    reviews: int = 0
    recovered: int = 0  # requests a dead worker left between two steps
    invitations_closed: int = 0  # accepted, or void (the account went first), as the platforms say


def sweep(ctx: ServiceContext, *, worker: str | None = None) -> SweepReport:
    recovered = recover(ctx)
    reminded = remind_ending_grants(ctx)
    tasks_reminded = remind_open_tasks(ctx)
    pending_reminded, expired = undecided(ctx)
    invitations_closed = check_invitations(ctx)
    tally = reconcile_due(ctx, worker=worker or worker_name())
    forget_old(ctx)
    return SweepReport(
        reminded=reminded,
        reverted=tally.ended,
        failed=tally.failed,
        tasks_reminded=tasks_reminded,
        pending_reminded=pending_reminded,
        expired=expired,
        reviews=_start_due_review(ctx),
        recovered=recovered,
        invitations_closed=invitations_closed,
    )


def next_moment(ctx: ServiceContext) -> datetime | None:
    """When a grant next ends or is reminded of, or an account is next due: the scheduler holds this one moment,
    not a timer per row. (Undecided requests and open tasks wait for the periodic sweep.)"""
    with Session(ctx.engine) as session:
        known = [moment for moment in (next_due(session=session), next_reminder(session=session)) if moment]
    return min(known) if known else None


def _start_due_review(ctx: ServiceContext) -> int:
    try:
        return 1 if run_due(ctx) is not None else 0
    except Exception:
        # Reverts and reminders must not wait on a review that cannot be taken; the next sweep tries again.
        logger.exception("the scheduled access review could not be started")
        return 0
