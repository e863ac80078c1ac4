"""A request's status follows from its changes: applied, waiting for manual steps, or failed and retryable."""

from __future__ import annotations

from domain.lifecycle import RequestStatus, outcome_of
from services.context import ServiceContext, logger
from services.offboarding import removal_notices
from services.views import RequestView
from storage.db import session_scope
from storage.requests import change_statuses, transition_request


def settle(ctx: ServiceContext, request_id: int) -> RequestView:
    """Move the request to what its changes add up to and tell people; while a change is still queued or being
    applied, only redraw its card."""
    with session_scope(ctx.engine) as session:
        outcome = outcome_of(change_statuses(session=session, request_id=request_id))
        moved = outcome is not None and transition_request(
            session=session, request_id=request_id, event=outcome, at=ctx.clock.now()
        )
        final = ctx.view(session, request_id)
    assert final is not None
    if outcome is None:
        ctx.notifier.request_progressed(final)
        return final
    if moved:
        logger.info("request is %s", final.status.value)
    ctx.notifier.request_concluded(final)
    if moved and final.verb == "remove" and final.status is RequestStatus.APPLIED:
        # Remove first, notify second: the notice is offered only once every platform is done.
        ctx.notifier.removal_notices(final, removal_notices(ctx, final))
    return final
