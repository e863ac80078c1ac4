"""Requests a crashed or killed bot process left between two steps, taken over by whichever process sweeps next.

Changes themselves need no recovery here: they are queued on their account, and an account whose worker died is
claimed again once its lease runs out and reconciled from what the platform has (services.reconcile), which
finishes the change rather than guessing. What remains is the request around them: one approved but never started
(the process died between the decision and the work) is started, and one left `applying` whose changes are all done
is settled.
"""

from __future__ import annotations

from datetime import timedelta

from domain.lifecycle import IN_PROGRESS_CHANGES, ChangeStatus, RequestStatus
from services.apply import run_request
from services.context import ServiceContext, logger
from services.settle import settle
from storage.db import session_scope
from storage.requests import change_statuses, stalled_requests


def recover(ctx: ServiceContext) -> int:
    """Start approved requests nobody started and settle applying ones whose changes are done. Returns how many
    requests it touched."""
    cutoff = ctx.clock.now() - timedelta(seconds=ctx.elevation_settings.lease_seconds)
    with session_scope(ctx.engine) as session:
        applying = stalled_requests(session=session, status=RequestStatus.APPLYING, before=cutoff)
        done = [
            request.id
            for request in applying
            if request.id is not None
            and not any(
                status in IN_PROGRESS_CHANGES or status is ChangeStatus.WAITING
                for status in change_statuses(session=session, request_id=request.id)
            )
        ]
        approved = stalled_requests(session=session, status=RequestStatus.APPROVED, before=cutoff)
        starts = [request.id for request in approved if request.id is not None]
    for request_id in done:
        logger.warning("request %s was left applying with every change done; settling it", request_id)
        settle(ctx, request_id)
    for request_id in starts:
        logger.warning("request %s was approved but never started; starting it", request_id)
        run_request(ctx, request_id)
    return len(done) + len(starts)
