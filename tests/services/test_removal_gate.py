"""The steps the removal procedures put before a removal (transfer ownership, replacement tokens) gate it: the access
stays until each is done or skipped by an approver with a reason; a removal for a security reason goes first."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from bot.exports import evidence_text
from domain.access import AccessState
from domain.lifecycle import ChangeStatus, RequestStatus, TaskKind
from domain.offboarding import GENERIC_CHECKLIST
from platforms.settings import SandboxSettings
from services import task_actions
from services.decisions import approve, retry
from services.evidence import gather
from services.sweeper import sweep
from services.task_actions import TaskOutcome, complete
from services.views import RequestView, TaskView
from tests.services.desk import ANA, Desk, access, make_desk, seed

ANALYST = AccessState(member=True, account_role="Analyst", scopes={"staging": "Admin"})
GATED = {
    "sandbox": SandboxSettings(approvers=("UBOB", "S0SECURITY"), removal_checklist=GENERIC_CHECKLIST),
    "sandbox-eu": SandboxSettings(approvers=("UBOB",), removal_checklist=GENERIC_CHECKLIST),
}
BEFORE = ["sandbox: Transfer dashboards and saved work", "sandbox: Replace the API tokens integrations use"]


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    desk = make_desk(tmp_path, settings=GATED)
    seed(desk, ANALYST)
    return desk


def approved(desk: Desk, text: str) -> RequestView:
    request_id = desk.submit(text)
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None
    return view


def before(view: RequestView) -> list[TaskView]:
    return [task for task in view.tasks if task.kind is TaskKind.BEFORE_REMOVAL]


def test_an_approved_removal_waits_for_the_steps_before_it_and_is_applied_when_the_last_is_done_or_skipped(
    desk: Desk,
) -> None:
    view = approved(desk, f"remove {ANA} sandbox delete reason: engagement ended ticket: OPS-7")
    assert view.status is RequestStatus.APPLYING and view.changes[0].status is ChangeStatus.GATED
    assert [task.title for task in before(view)] == BEFORE
    assert [task.title for kind, task in desk.notifier.tasks if kind == "opened"] == BEFORE, "posted to approvers"
    assert access(desk) == ANALYST, "nothing removed before its steps"
    assert desk.notifier.notices == []

    transfer, tokens = before(view)
    done = complete(desk.ctx, transfer.id, person=desk.approver, evidence="dashboards moved to ops@client")
    assert done.outcome is TaskOutcome.DONE and access(desk) == ANALYST, "one step left"
    skipped = complete(
        desk.ctx, tokens.id, person=desk.approver, evidence="no integration uses their tokens", skip=True
    )
    assert skipped.outcome is TaskOutcome.DONE and skipped.task is not None and skipped.task.is_skipped
    assert skipped.request is not None and skipped.request.status is RequestStatus.APPLIED
    assert access(desk) == AccessState.absent()
    assert [notice.platform for notice in desk.notifier.notices] == ["sandbox"], "told after the removal"
    trail = desk.audit(view.id)
    assert trail.index("manual_step_skipped") < trail.index("applied")
    record = gather(desk.ctx, view.id)
    assert record is not None
    text = evidence_text(record)
    assert "Replace the API tokens integrations use: skipped" in text, "the auditor's file says it was skipped"
    assert "by UBOB: no integration uses their tokens" in text, "by whom and why"


def test_skipping_needs_a_reason_an_approver_and_a_step_before_a_removal(desk: Desk) -> None:
    view = approved(desk, f"remove {ANA} sandbox delete reason: engagement ended")
    transfer, _ = before(view)
    no_reason = complete(desk.ctx, transfer.id, person=desk.approver, evidence="  ", skip=True)
    assert no_reason.outcome is TaskOutcome.REFUSED and "Say why" in no_reason.reason
    stranger = desk.directory.add("UDAVE", "dave@client.example")
    assert complete(desk.ctx, transfer.id, person=stranger, evidence="x", skip=True).outcome is TaskOutcome.REFUSED
    assert desk.ctx.load_view(view.id).tasks[0].is_open  # type: ignore[union-attr]
    desk.clear_gate(view.id)
    after = next(task for task in desk.ctx.load_view(view.id).tasks if task.kind is TaskKind.CHECKLIST)  # type: ignore[union-attr]
    refused = complete(desk.ctx, after.id, person=desk.approver, evidence="not needed", skip=True)
    assert refused.outcome is TaskOutcome.REFUSED and "Only a step before a removal" in refused.reason


@pytest.mark.parametrize(
    "text",
    [
        "remove {who} sandbox delete now reason: leaving",
        "remove {who} sandbox delete reason: account compromised, phishing",
    ],
)
def test_a_removal_for_a_security_reason_goes_first_and_its_steps_before_come_after(desk: Desk, text: str) -> None:
    view = approved(desk, text.format(who=ANA))
    assert view.security and view.status is RequestStatus.APPLIED
    assert access(desk) == AccessState.absent()
    assert before(view) == []
    follow_ups = [task.title for task in view.tasks if task.kind is TaskKind.CHECKLIST]
    assert follow_ups[:2] == BEFORE, "transferring and replacing tokens still matter, after"


def test_the_last_step_queues_the_removal_in_its_own_transaction_so_a_crash_after_it_loses_nothing(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = approved(desk, f"remove {ANA} sandbox delete reason: engagement ended")
    # The process dies right after the step is recorded: nobody applies the removal now.
    monkeypatch.setattr(task_actions, "drain", lambda *args, **kwargs: None)
    desk.clear_gate(view.id)
    assert access(desk) == ANALYST
    desk.clock.advance(timedelta(seconds=desk.ctx.elevation_settings.lease_seconds + 1))
    sweep(desk.ctx)
    assert access(desk) == AccessState.absent()
    assert desk.ctx.load_view(view.id).status is RequestStatus.APPLIED  # type: ignore[union-attr]


def test_a_retried_removal_does_not_ask_for_the_steps_before_it_again(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, settings=GATED, sandbox_eu=1)
    for name in ("sandbox", "sandbox-eu"):
        seed(desk, ANALYST, name)
    view = approved(desk, f"remove {ANA} all delete reason: engagement ended")
    assert len(before(view)) == 4, "each platform's own"
    failed = desk.clear_gate(view.id)
    assert failed.status is RequestStatus.FAILED and access(desk, "sandbox") == AccessState.absent()
    again = retry(desk.ctx, view.id, actor=desk.approver).view
    assert again is not None and again.status is RequestStatus.APPLIED
    assert len(before(again)) == 4 and access(desk, "sandbox-eu") == AccessState.absent()


def test_two_people_closing_the_last_two_steps_at_once_release_the_removal_once(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL two transactions run side by side: each closes its own step and must see the other's."""
    desk = make_desk(tmp_path, settings=GATED, database_url=postgres_url)
    seed(desk, ANALYST)
    view = approved(desk, f"remove {ANA} sandbox delete reason: engagement ended")
    both_closed = threading.Barrier(2, timeout=30)
    closing = task_actions.complete_task

    def close_then_wait(**kwargs: object) -> bool:
        closed = closing(**kwargs)  # type: ignore[arg-type]
        both_closed.wait()  # each has closed its step and not committed: the moment the two can miss each other
        return closed

    monkeypatch.setattr(task_actions, "complete_task", close_then_wait)
    people = (desk.approver, desk.other_approver)
    results: list[task_actions.TaskResult] = []
    threads = [
        threading.Thread(
            target=lambda t=task, p=person: results.append(complete(desk.ctx, t.id, person=p, evidence="done"))
        )
        for task, person in zip(before(view), people, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [result.outcome for result in results] == [TaskOutcome.DONE, TaskOutcome.DONE]
    assert access(desk) == AccessState.absent(), "the removal was released"
    assert desk.audit(view.id).count("apply_started") == 1
