"""What a reconcile step reports (`Step`, `Tally`), and what is said once its transaction has committed (`Notices`):
requests settled, temporary grants that ended, other messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from services.context import ServiceContext, logger
from services.settle import settle
from services.views import EndedGrant, GrantView, RequestView, card_at
from storage.requests import who_to_tell


class Step(StrEnum):
    IDLE = "idle"  # nothing to do on the account now
    DONE = "done"  # a step ran; there may be more
    FINISHED = "finished"  # a step ran and left nothing to do now: it let the account go in its own transaction
    FAILED = "failed"  # the platform failed; the account is retried later, with backoff
    LOST = "lost"  # another worker took the claim over
    WAIT = "wait"  # the change needs the platform's admin claim, which another change holds


@dataclass
class Tally:
    """What a run over accounts did, for the sweep's report."""

    ended: int = 0  # temporary grants that ended (expired or revoked) and were verified
    failed: int = 0  # steps that failed
    steps: int = 0
    held: int = 0  # times the run held an account (0: another worker had it all along)
    # Temporary grants that ended, not told yet: a sweep tells of all of them at once, in digests when many.
    untold: list[GrantView] = field(default_factory=list)
    # The one request whose last drawing the caller wants (applying a request answers with it), and that drawing.
    # Only that one: a sweep settles thousands of requests and keeps none of them.
    watching: int | None = None
    settled: RequestView | None = None


@dataclass
class Notices:
    """What to tell people once the transaction has committed: requests to settle, temporary grants that ended,
    then other messages."""

    settle: set[int] = field(default_factory=set)
    ended: list[GrantView] = field(default_factory=list)  # as they were when they ended
    calls: list[Callable[[], None]] = field(default_factory=list)

    def after(self, call: Callable[[], None]) -> None:
        self.calls.append(call)


def publish(ctx: ServiceContext, notices: Notices, tally: Tally | None = None) -> None:
    for request_id in sorted(notices.settle):
        settled = settle(ctx, request_id)
        if tally is not None and request_id == tally.watching:
            tally.settled = settled
    tell_ended(ctx, notices.ended)
    for call in notices.calls:
        try:
            call()
        except Exception:
            # A message that could not be built or sent never undoes what was recorded.
            logger.exception("telling people what happened failed")


def wake(ctx: ServiceContext, at: datetime | None) -> None:
    if ctx.timers is not None and at is not None:
        ctx.timers.due(at)


def tell_ended(ctx: ServiceContext, ended: Sequence[GrantView]) -> None:
    """Tell of temporary grants that ended: one call for them all, with the few columns telling needs of their
    requests read in one query (not their whole views: many grants end together, and their cards are drawn when
    they are sent)."""
    if not ended:
        return
    with Session(ctx.engine) as session:
        requests = who_to_tell(session=session, request_ids=(view.request_id for view in ended))
    told = [
        EndedGrant(
            request_id=view.request_id,
            requester_id=requests[view.request_id].requester_id,
            target_slack_id=requests[view.request_id].target_slack_id,
            card=card_at(requests[view.request_id].card_channel, requests[view.request_id].card_ts),
            grant=view,
        )
        for view in ended
    ]
    try:
        ctx.notifier.elevations_ended(sorted(told, key=lambda item: (item.request_id, item.grant.id)))
    except Exception:
        # A message that could not be built or sent never undoes what was recorded.
        logger.exception("telling people that temporary access ended failed")
