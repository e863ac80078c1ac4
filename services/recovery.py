"""Work a crashed or killed bot process left half-done, taken over by whichever process sweeps next.

A change is claimed (`applying`) before anything is sent to its platform. If the process dies there, nobody can tell
whether the platform got the change, so after a lease the change is marked failed, saying so, and the request
becomes retryable: Retry applies desired state, which converges whether or not the first attempt landed. A request
approved but never started (the process died between the decision and the work) is simply started.
"""

from __future__ import annotations

from datetime import timedelta

from domain.lifecycle import ChangeEvent, RequestStatus
from services.apply import run_request, settle
from services.context import ServiceContext, logger
from storage.audit import BOT_ACTOR, AuditKind, record
from storage.db import session_scope
from storage.requests import get_request, interrupted_changes, stalled_requests, transition_change

INTERRUPTED = (
    "interrupted: the bot stopped while applying this change, so whether the platform got it is unknown. Retry "
    "applies it again; that is safe either way"
)


def recover(ctx: ServiceContext) -> int:
    """Fail changes whose worker died mid-apply, settle their requests, start approved requests nobody started.
    Returns how many requests it touched."""
    cutoff = ctx.clock.now() - timedelta(seconds=ctx.elevation_settings.lease_seconds)
    touched: set[int] = set()
    with session_scope(ctx.engine) as session:
        for change in interrupted_changes(session=session, before=cutoff):
            assert change.id is not None and change.request_id is not None
            # Conditional on the change still being the stalled claim: a slow worker that finished meanwhile wins.
            moved = transition_change(
                session=session,
                change_id=change.id,
                event=ChangeEvent.FAIL,
                at=ctx.clock.now(),
                error=INTERRUPTED,
                error_kind="interrupted",
            )
            if not moved:
                continue
            request = get_request(session=session, request_id=change.request_id)
            record(
                session=session,
                event=AuditKind.FAILED,
                actor=BOT_ACTOR,
                at=ctx.clock.now(),
                request_id=change.request_id,
                platform=change.platform,
                target_email=request.target_email if request else None,
                detail={"error": INTERRUPTED, "kind": "interrupted", "attempt": change.attempts},
            )
            touched.add(change.request_id)
        applying = stalled_requests(session=session, status=RequestStatus.APPLYING, before=cutoff)
        approved = stalled_requests(session=session, status=RequestStatus.APPROVED, before=cutoff)
        touched |= {request.id for request in applying if request.id is not None}
        starts = [(request.id, request.decided_by) for request in approved if request.id is not None]
    for request_id in sorted(touched):
        logger.warning("request %s was interrupted while being applied; it is now retryable", request_id)
        settle(ctx, request_id)
    for request_id, decided_by in starts:
        logger.warning("request %s was approved but never started; starting it", request_id)
        run_request(ctx, request_id, actor=decided_by or BOT_ACTOR)
    return len(touched) + len(starts)
