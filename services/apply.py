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

from domain.lifecycle import ChangeEvent, ChangeStatus, RequestEvent
from services.context import ServiceContext
from services.logs import for_request, worker_name
from services.offboarding import passes_gate
from services.reconcile import drain, queue_change
from services.settle import settle
from services.views import RequestView
from storage.db import session_scope
from storage.ledger import get_grant
from storage.requests import changes_of, get_request, transition_change, transition_request


@for_request
def run_request(ctx: ServiceContext, request_id: int, *, actor: str) -> RequestView | None:
    """Apply every change of an approved (or failed) request that is not applied yet.

    Returns the view once this worker has done what it could (a change queued behind another worker's is finished
    by that one), or None when another worker is already running this request.
    """
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
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
    ctx.notifier.request_progressed(view)
    if opened:
        ctx.notifier.manual_tasks_opened(view, tuple(task for task in view.tasks if task.id in opened))
    if not accounts:
        return settle(ctx, request_id)
    for account in accounts:
        # Offboarding from several platforms: each account's step settles the request, so the card shows each
        # platform's result as it comes.
        drain(ctx, account, worker=worker_name())
    return ctx.load_view(request_id)
