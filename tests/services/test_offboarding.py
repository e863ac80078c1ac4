"""After a removal: the follow-up checklist as tracked tasks, and the notice for the person's organisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.access import AccessState, RemovalMethod
from domain.lifecycle import RequestStatus, TaskKind
from domain.offboarding import GENERIC_CHECKLIST, FollowUp, Stage, checklist_for
from platforms.settings import SandboxSettings
from services.context import ServiceContext
from services.decisions import approve, retry
from services.settings import RemovalSettings
from services.submit import submit
from services.task_actions import TaskOutcome, complete
from services.views import RequestView
from tests.fakes import FlakyPlatform
from tests.services.desk import ANA, Desk, access, make_desk, seed

ANALYST = AccessState(member=True, account_role="Analyst", scopes={"staging": "Admin"})

DELETED = checklist_for(GENERIC_CHECKLIST, RemovalMethod.DELETE, Stage.AFTER)  # all but the kept account's note
REVOKED = checklist_for(GENERIC_CHECKLIST, RemovalMethod.REVOKE, Stage.AFTER)


#: The sandboxes with the generic procedure, steps before the removal included (the sandbox's own has none).
GATED = {
    "sandbox": SandboxSettings(approvers=("UBOB", "S0SECURITY"), removal_checklist=GENERIC_CHECKLIST),
    "sandbox-eu": SandboxSettings(approvers=("UBOB",), removal_checklist=GENERIC_CHECKLIST),
}


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return make_desk(tmp_path, settings=GATED)


def removed(desk: Desk, text: str) -> RequestView:
    """Approved, and the steps before the removal done."""
    request_id = desk.submit(text)
    approve(desk.ctx, request_id, approver=desk.approver)
    return desk.clear_gate(request_id)


def checklist(view: RequestView) -> list[str]:
    return [task.title for task in view.tasks if task.kind is TaskKind.CHECKLIST]


def test_deleting_opens_every_follow_up_and_posts_them(desk: Desk) -> None:
    seed(desk, ANALYST)
    view = removed(desk, f"remove {ANA} sandbox delete reason: engagement ended")
    assert view.status is RequestStatus.APPLIED
    assert access(desk) == AccessState.absent()
    assert checklist(view) == [f"sandbox: {item.title}" for item in DELETED]
    posted = [task.title for kind, task in desk.notifier.tasks if kind == "opened"]
    before = [f"sandbox: {item.title}" for item in checklist_for(GENERIC_CHECKLIST, RemovalMethod.DELETE, Stage.BEFORE)]
    assert posted == before + checklist(view), "the steps before when it was approved, the checklist after"
    assert desk.audit(view.id)[-1] == "applied"


def test_revoking_keeps_the_account_and_skips_moving_its_content(desk: Desk) -> None:
    seed(desk, ANALYST)
    view = removed(desk, f"remove {ANA} sandbox revoke reason: paused")
    assert access(desk) == AccessState(member=True, account_role="Read-Only")
    titles = checklist(view)
    assert "sandbox: Transfer dashboards and saved work" not in titles
    assert "sandbox: Revoke the API tokens and keys they owned" in titles
    assert titles == [f"sandbox: {item.title}" for item in REVOKED]
    assert titles[0] == "sandbox: Add the account note", "a kept account gets its note; a deleted one has none"


def test_follow_ups_do_not_hold_the_request_back_and_record_who_did_them(desk: Desk) -> None:
    seed(desk, ANALYST)
    view = removed(desk, f"remove {ANA} sandbox reason: engagement ended")
    first, second = [task for task in view.tasks if task.kind is TaskKind.CHECKLIST and task.is_open][:2]
    done = complete(desk.ctx, first.id, person=desk.approver, evidence="revoked token tk_123, reissued to svc-etl")
    assert done.outcome is TaskOutcome.DONE
    assert done.task is not None and done.task.done_by == "UBOB"
    assert done.request is not None and done.request.status is RequestStatus.APPLIED
    stranger = desk.directory.add("UDAVE", "dave@client.example")
    assert complete(desk.ctx, second.id, person=stranger, evidence=None).outcome is TaskOutcome.REFUSED
    assert desk.audit(view.id).count("manual_step_done") == 3, "the two steps before the removal, and this one"


def test_offboarding_everywhere_opens_each_platforms_checklist_once_and_the_notice_after_the_last(
    tmp_path: Path,
) -> None:
    desk = make_desk(tmp_path, settings=GATED, sandbox_eu=1)
    for name in ("sandbox", "sandbox-eu"):
        seed(desk, ANALYST, name)
    view = removed(desk, f"remove {ANA} all reason: engagement ended ticket: OPS-9")
    assert view.status is RequestStatus.FAILED
    assert {title.split(":")[0] for title in checklist(view)} == {"sandbox"}
    assert desk.notifier.notices == []

    view = retry(desk.ctx, view.id, actor=desk.approver).view
    assert view is not None and view.status is RequestStatus.APPLIED
    titles = checklist(view)
    assert len(titles) == 2 * len(DELETED)  # the retry did not open sandbox's list again
    assert [notice.platform for notice in desk.notifier.notices] == ["sandbox", "sandbox-eu"]
    assert desk.notifier.kinds().count("removal_notices") == 1


def test_the_notice_is_the_procedures_template_filled_in(desk: Desk) -> None:
    seed(desk, ANALYST)
    desk.directory.add("UANA", ANA)
    command = desk.command(f"remove {ANA} sandbox reason: engagement ended ticket: OPS-9")
    view = submit(desk.ctx, command, requester=desk.requester, target_email=ANA, target_slack_id="UANA")
    approve(desk.ctx, view.id, approver=desk.approver)
    assert desk.notifier.notices == [], "not before the removal is applied"
    desk.clear_gate(view.id)
    (notice,) = desk.notifier.notices
    assert notice.notice.subject == "sandbox Access Removed for ana"
    body = notice.notice.body
    assert f"We have removed sandbox access for {ANA} as of 22 November 2026\nper ticket OPS-9." in body
    assert "The account no longer has access to any sandbox data." in body
    # Without a configured contact, the person who asked for the removal is the one to contact.
    assert "please contact\nalice (alice@agency.example) within 5 business days." in body


def test_configured_contact_product_and_checklist_replace_the_defaults(tmp_path: Path) -> None:
    runbook = (FollowUp(title="Close the engagement in the tracker", instructions="Mark the SOW line closed."),)
    settings = {"sandbox": SandboxSettings(approvers=("UBOB",), removal_checklist=runbook, notice_product="Heap")}
    desk = make_desk(tmp_path, settings=settings)
    desk.ctx = ServiceContext(
        **{name: getattr(desk.ctx, name) for name in ("engine", "platforms", "settings", "directory", "clock")},
        notifier=desk.notifier,
        removal_settings=RemovalSettings(notice_contact="the Acme analytics team (analytics@acme.example)"),
    )
    seed(desk, ANALYST)
    view = removed(desk, f"remove {ANA} sandbox reason: done")
    assert checklist(view) == ["sandbox: Close the engagement in the tracker"]
    (notice,) = desk.notifier.notices
    assert notice.notice.subject == f"Heap Access Removed for {ANA}"
    assert "per engagement completion." in notice.notice.body
    assert "contact\nthe Acme analytics team (analytics@acme.example) within" in notice.notice.body


def test_a_grant_opens_no_checklist_and_no_notice(desk: Desk) -> None:
    view = removed(desk, f"add {ANA} sandbox viewer on production reason: x")
    assert view.status is RequestStatus.APPLIED and view.tasks == ()
    assert desk.notifier.notices == []


def test_a_failed_removal_opens_nothing(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, settings=GATED, sandbox=1)
    seed(desk, ANALYST)
    view = removed(desk, f"remove {ANA} sandbox reason: x")
    assert view.status is RequestStatus.FAILED and checklist(view) == []
    assert isinstance(desk.ctx.platforms["sandbox"], FlakyPlatform)
    assert view.changes[0].method is RemovalMethod.DELETE
