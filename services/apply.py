"""Applying an approved (or retried) request: its changes are queued on the accounts they concern and reconciled.

The request moves to `applying` with a conditional update, so two workers (a double click, two bot processes) never
start it twice. Each change then waits its turn on the person's account, where one worker at a time applies it
through the reconcile path (services.reconcile), which records before and after, verifies, and settles the request
when its last change is done.

A removal waits for the steps its platform's procedure puts before it (transfer ownership, replacement tokens): they
are opened as tasks and the change is `gated` until each is done or skipped (services.task_actions), unless the
removal is for a security reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from domain.lifecycle import ChangeEvent, ChangeStatus, RequestEvent
from services.context import ServiceContext
from services.logs import for_request, worker_name
from services.offboarding import passes_gate
from services.reconcile import Tally, drain, queue_change
from services.settle import settle
from services.views import RequestView
from storage.db import session_scope
from storage.ledger import get_grant
from storage.requests import changes_of, get_request, transition_change, transition_request


@dataclass(frozen=True)
class Started:
    """A request moved to `applying`, its changes queued on their accounts (or gated behind tasks it opened)."""

    view: RequestView
    accounts: list[int]
    opened: list[int]


def start_request(session: Session, ctx: ServiceContext, request_id: int, *, now: datetime) -> Started | None:
    """In the caller's transaction: move the request to `applying` and queue each of its changes not applied yet on
    the account it concerns (a removal waits behind the tasks that must come before it). None when another worker
    started it already."""
    if not transition_request(session=session, request_id=request_id, event=RequestEvent.START, at=now):
        return None
    request = get_request(session=session, request_id=request_id)
    assert request is not None
    before: RequestView | None = None  # read for a removal only: the steps before it are drawn from it
    accounts: list[int] = []
    opened: list[int] = []
    for change in changes_of(session=session, request_id=request_id):
        if change.status not in (ChangeStatus.WAITING.value, ChangeStatus.FAILED.value):
            continue
        assert change.id is not None
        if change.action == "remove":
            before = before or ctx.view(session, request_id)
            assert before is not None
            passed, tasks = passes_gate(session, ctx, before, before.change(change.id), now=now)
            if not passed:
                transition_change(session=session, change_id=change.id, event=ChangeEvent.GATE, at=now)
                opened += tasks
                continue
        email = request.target_email
        if change.action == "extend" and change.grant_id is not None:
            grant = get_grant(session=session, grant_id=change.grant_id)
            email = grant.email if grant is not None else email
        account = queue_change(session, ctx, change, email=email, now=now)
        if account not in accounts:
            accounts.append(account)
    view = ctx.view(session, request_id)
    assert view is not None
    return Started(view=view, accounts=accounts, opened=opened)


@for_request
def run_request(ctx: ServiceContext, request_id: int) -> RequestView | None:
    """Apply every change of an approved (or failed) request that is not applied yet.

    Returns the view once this worker has done what it could (a change queued behind another worker's is finished
    by that one), or None when another worker is already running this request.
    """
    with session_scope(ctx.engine) as session:
        started = start_request(session, ctx, request_id, now=ctx.clock.now())
    return carry_out(ctx, started) if started is not None else None


def carry_out(ctx: ServiceContext, started: Started) -> RequestView:
    """Once `start_request` has committed: say so, then apply what it queued, account by account."""
    view = started.view
    ctx.notifier.request_progressed(view)
    if started.opened:
        ctx.notifier.manual_tasks_opened(view, tuple(task for task in view.tasks if task.id in started.opened))
    if not started.accounts:
        return settle(ctx, view.id)
    tally = Tally(watching=view.id)
    for account in started.accounts:
        # Offboarding from several platforms: each account's step settles the request, so the card shows each
        # platform's result as it comes.
        drain(ctx, account, worker=worker_name(), tally=tally)
    final = tally.settled or ctx.load_view(view.id)
    assert final is not None
    return final
