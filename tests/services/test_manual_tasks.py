"""Manual tasks: Chartbeat's role and site steps, tracked until an admin says they are done and how."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from domain.access import AccessState, AccessStep
from domain.ledger import GrantState
from domain.lifecycle import ChangeStatus, RequestStatus, TaskKind
from platforms.base import ApplyResult, Platform
from platforms.settings import ChartbeatSettings
from services.grants import load
from services.sweeper import sweep
from services.task_actions import TaskOutcome, complete
from tests.fakes import FlakyPlatform
from tests.scim_server import ScimServer, running
from tests.services.desk import Desk, approve_fully, make_desk

ANA = "ana@agency.example"
OWNER = ("owner@client.example", "owner-password")


@pytest.fixture(scope="module")
def server() -> Iterator[ScimServer]:
    with running(token=None, basic=OWNER) as chartbeat:
        yield chartbeat


@pytest.fixture
def desk(server: ScimServer, tmp_path: Path) -> Desk:
    settings = ChartbeatSettings.model_validate(
        {
            "base_url": server.url,
            "username": OWNER[0],
            "password": OWNER[1],
            "approvers": ["UBOB", "S0SECURITY"],
            "sites": ["example.com", "news.example.com"],
            "rate_limit_per_minute": 60_000,
        }
    )
    return make_desk(tmp_path, settings={"chartbeat": settings})


def granted(desk: Desk, text: str) -> int:
    request_id = desk.submit(text)
    approve_fully(desk, request_id)
    return request_id


def open_tasks(desk: Desk, request_id: int) -> list[int]:
    view = desk.ctx.load_view(request_id)
    assert view is not None
    return [task.id for task in view.tasks if task.is_open]


def test_a_request_with_open_manual_steps_is_not_reported_as_applied(desk: Desk, server: ScimServer) -> None:
    email = f"fresh-{id(desk)}@agency.example"
    request_id = granted(desk, f"add {email} chartbeat access on example.com reason: dashboards")
    view = desk.ctx.load_view(request_id)
    assert view is not None
    assert view.status is RequestStatus.AWAITING_MANUAL
    assert view.changes[0].status is ChangeStatus.AWAITING_MANUAL
    assert [task.title for task in view.tasks] == [
        "chartbeat: account role None → Member",
        "chartbeat: example.com: no access → Access",
    ]
    assert "Set Role to Member" in view.tasks[0].instructions
    assert desk.notifier.kinds()[-2:] == ["concluded", "tasks_opened"]
    assert [task.id for _, task in desk.notifier.tasks] == [task.id for task in view.tasks]
    assert desk.ctx.platforms["chartbeat"].get_access(email).member, "the account exists already, over SCIM"
    assert "awaiting_manual" in desk.audit(request_id) and "applied" not in desk.audit(request_id)


def test_the_last_step_done_applies_and_verifies_the_change(desk: Desk) -> None:
    email = f"done-{id(desk)}@agency.example"
    request_id = granted(desk, f"add {email} chartbeat access on example.com reason: x")
    first, second = open_tasks(desk, request_id)
    result = complete(desk.ctx, first, person=desk.approver, evidence="screenshot: https://files/role.png")
    assert result.outcome is TaskOutcome.DONE
    assert result.request is not None and result.request.status is RequestStatus.AWAITING_MANUAL
    result = complete(desk.ctx, second, person=desk.other_approver, evidence=None)
    assert result.request is not None and result.request.status is RequestStatus.APPLIED
    assert result.request.changes[0].after == AccessState(
        member=True, account_role="Member", scopes={"example.com": "Access"}
    )
    trail = desk.audit(request_id)
    assert trail.count("manual_step_done") == 2 and trail[-1] == "applied"
    assert result.task is not None and result.task.done_by == "UCAROL"


class HoldsAfterApply(FlakyPlatform):
    """Chartbeat, whose answer to an apply is held until the test lets it through."""

    def __init__(self, inner: Platform) -> None:
        super().__init__(inner)
        self.hold = threading.Event()
        self.held = threading.Event()
        self.release = threading.Event()

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        result = super().apply(email, desired)
        if self.hold.is_set():
            self.held.set()
            assert self.release.wait(30), "the test never let the answer through"
        return result

    def record_manual(self, email: str, step: AccessStep, *, actor: str) -> None:
        self.inner.record_manual(email, step, actor=actor)


def test_the_last_step_done_while_the_first_is_being_verified_still_applies_the_change(desk: Desk) -> None:
    """Carol marks the last step done while the bot is still verifying Bob's: her wake-up of the account must not be
    lost when Bob's step records what it found (then nothing would ever finish the change)."""
    slow = HoldsAfterApply(desk.ctx.platforms["chartbeat"])
    desk.ctx = replace(desk.ctx, platforms={**desk.ctx.platforms, "chartbeat": slow})
    email = f"both-{id(desk)}@agency.example"
    request_id = granted(desk, f"add {email} chartbeat access on example.com reason: x")
    first, second = open_tasks(desk, request_id)
    slow.hold.set()
    bob = threading.Thread(target=complete, args=(desk.ctx, first), kwargs={"person": desk.approver, "evidence": None})
    bob.start()
    assert slow.held.wait(20), "Bob's step never reached the platform"
    slow.hold.clear()
    carol = complete(desk.ctx, second, person=desk.other_approver, evidence=None)
    assert carol.outcome is TaskOutcome.DONE
    slow.release.set()
    bob.join(30)
    assert not bob.is_alive()
    view = desk.ctx.load_view(request_id)
    assert view is not None and view.status is RequestStatus.APPLIED, "finished by Bob's worker, which was woken"
    assert view.changes[0].after == AccessState(member=True, account_role="Member", scopes={"example.com": "Access"})
    assert [task.done_by for task in view.tasks] == ["UBOB", "UCAROL"], "no step asked for again once done"


def test_the_last_step_back_done_while_the_first_is_being_verified_still_ends_the_elevation(desk: Desk) -> None:
    """The same at the end of temporary access: the grant ends once both steps back are done, each asked once."""
    slow = HoldsAfterApply(desk.ctx.platforms["chartbeat"])
    desk.ctx = replace(desk.ctx, platforms={**desk.ctx.platforms, "chartbeat": slow})
    email = f"back-{id(desk)}@agency.example"
    for task in open_tasks(desk, granted(desk, f"add {email} chartbeat member reason: x")):
        complete(desk.ctx, task, person=desk.approver, evidence=None)
    role = granted(desk, f"update {email} chartbeat admin for 2h reason: setup")
    site = granted(desk, f"add {email} chartbeat access on example.com for 2h reason: setup")
    for task in open_tasks(desk, role) + open_tasks(desk, site):
        complete(desk.ctx, task, person=desk.approver, evidence=None)
    desk.clock.advance(timedelta(hours=2))
    sweep(desk.ctx)
    ((first,), (second,)) = (open_tasks(desk, role), open_tasks(desk, site))
    slow.hold.set()
    bob = threading.Thread(target=complete, args=(desk.ctx, first), kwargs={"person": desk.approver, "evidence": None})
    bob.start()
    assert slow.held.wait(20), "Bob's step never reached the platform"
    slow.hold.clear()
    assert complete(desk.ctx, second, person=desk.other_approver, evidence=None).outcome is TaskOutcome.DONE
    slow.release.set()
    bob.join(30)
    assert not bob.is_alive()
    for request_id in (role, site):
        view = desk.ctx.load_view(request_id)
        assert view is not None and view.elevations[0].state is GrantState.ENDED
        assert open_tasks(desk, request_id) == [], "no step back asked for again once done"
    assert slow.get_access(email) == AccessState(member=True, account_role="Member")


def test_revoking_on_chartbeat_opens_the_checklist_once_the_manual_steps_are_done(desk: Desk) -> None:
    email = f"leaver-{id(desk)}@agency.example"
    for task in open_tasks(desk, granted(desk, f"add {email} chartbeat access on example.com reason: x")):
        complete(desk.ctx, task, person=desk.approver, evidence=None)
    assert desk.ctx.platforms["chartbeat"].get_access(email).scopes == {"example.com": "Access"}
    request_id = granted(desk, f"remove {email} chartbeat revoke reason: engagement ended")
    gated = desk.ctx.load_view(request_id)
    assert gated is not None and gated.status is RequestStatus.APPLYING
    assert [(task.kind, task.title) for task in gated.tasks] == [
        (TaskKind.BEFORE_REMOVAL, "chartbeat: Generate replacement Chartbeat API keys under a service account")
    ]
    assert desk.ctx.platforms["chartbeat"].get_access(email).scopes == {"example.com": "Access"}, "not yet removed"
    view = desk.clear_gate(request_id)
    assert view.status is RequestStatus.AWAITING_MANUAL
    assert [(task.kind, task.title) for task in view.tasks if task.kind is not TaskKind.BEFORE_REMOVAL] == [
        (TaskKind.PLATFORM_STEP, "chartbeat: example.com: Access → no access")
    ]
    for task in open_tasks(desk, request_id):
        result = complete(desk.ctx, task, person=desk.approver, evidence="done in the Users page")
    assert result.request is not None and result.request.status is RequestStatus.APPLIED
    assert result.request.changes[0].after == AccessState(member=True, account_role="Member")
    follow_ups = [task.title for task in result.request.tasks if task.kind is TaskKind.CHECKLIST]
    assert follow_ups == [
        "chartbeat: Add the account note",
        "chartbeat: Rotate Chartbeat API keys and shared secrets",
        "chartbeat: Remove them from Chartbeat's IdP/SSO groups",
        "chartbeat: Update distribution lists and report recipients",
        "chartbeat: Check the integrations still work",
    ]
    assert [task.title for kind, task in desk.notifier.tasks[-5:]] == follow_ups
    (notice,) = desk.notifier.notices
    assert notice.notice.subject == f"Chartbeat Access Removed for {email}"
    assert "The account no longer has access to any Chartbeat sites or dashboards." in notice.notice.body


def test_who_may_say_a_step_is_done(desk: Desk) -> None:
    email = "ana@agency.example"
    target = desk.directory.add("UANA", email)
    request_id = granted(desk, f"add {email} chartbeat member reason: x")
    (task,) = open_tasks(desk, request_id)
    stranger = desk.directory.add("UDAVE", "dave@client.example")
    assert complete(desk.ctx, task, person=stranger, evidence=None).outcome is TaskOutcome.REFUSED
    refused = complete(desk.ctx, task, person=target.model_copy(update={"slack_id": "UCAROL"}), evidence=None)
    assert refused.outcome is TaskOutcome.REFUSED and "your own access" in refused.reason
    assert complete(desk.ctx, task, person=desk.approver, evidence=None).outcome is TaskOutcome.DONE
    again = complete(desk.ctx, task, person=desk.other_approver, evidence=None)
    assert again.outcome is TaskOutcome.ALREADY_DONE and again.task is not None and again.task.done_by == "UBOB"


def test_open_tasks_are_brought_back_every_day_until_done(desk: Desk) -> None:
    request_id = granted(desk, f"add remind-{id(desk)}@agency.example chartbeat member reason: x")
    (task,) = open_tasks(desk, request_id)
    desk.clock.advance(timedelta(hours=23))
    assert sweep(desk.ctx).tasks_reminded == 0
    desk.clock.advance(timedelta(hours=1))
    assert sweep(desk.ctx).tasks_reminded == 1
    assert sweep(desk.ctx).tasks_reminded == 0
    desk.clock.advance(timedelta(hours=24))
    assert sweep(desk.ctx).tasks_reminded == 1
    complete(desk.ctx, task, person=desk.approver, evidence=None)
    desk.clock.advance(timedelta(days=3))
    assert sweep(desk.ctx).tasks_reminded == 0


def test_a_temporary_grant_starts_when_its_manual_steps_are_done(desk: Desk) -> None:
    email = f"temp-{id(desk)}@agency.example"
    request_id = granted(desk, f"add {email} chartbeat admin for 4h reason: launch day")
    desk.clock.advance(timedelta(hours=1))
    view = desk.ctx.load_view(request_id)
    assert view is not None
    (planned,) = view.elevations
    assert planned.state is GrantState.APPLYING and planned.ends_at is None, "its clock starts once it is applied"
    (task,) = open_tasks(desk, request_id)
    complete(desk.ctx, task, person=desk.approver, evidence=None)
    view = desk.ctx.load_view(request_id)
    assert view is not None and view.status is RequestStatus.APPLIED
    (elevation,) = view.elevations
    assert elevation.ends_at == desk.clock.now() + timedelta(hours=4), "the clock starts when it is applied"
    desk.clock.advance(timedelta(hours=4))
    assert sweep(desk.ctx).reverted == 1
    # They were not a member before: leaving again is done over SCIM, with nothing left for an admin.
    (_, after) = load(desk.ctx, elevation.id)  # type: ignore[misc]
    assert [task for task in after.tasks if task.is_open] == []
    assert not desk.ctx.platforms["chartbeat"].get_access(email).member


def test_ending_an_elevation_of_the_role_opens_a_task_to_set_it_back(desk: Desk) -> None:
    email = f"role-{id(desk)}@agency.example"
    chartbeat = desk.ctx.platforms["chartbeat"]
    for step in chartbeat.apply(email, AccessState(member=True, account_role="Member")).manual:
        chartbeat.record_manual(email, step, actor="UBOB")
    request_id = granted(desk, f"update {email} chartbeat admin for 2h reason: one-off setup")
    (task,) = open_tasks(desk, request_id)
    complete(desk.ctx, task, person=desk.approver, evidence="done in the UI")
    desk.clock.advance(timedelta(hours=2))
    assert sweep(desk.ctx).reverted == 0, "not reverted until an admin has set it back"
    view = desk.ctx.load_view(request_id)
    assert view is not None
    (revert,) = [task for task in view.tasks if task.is_open]
    assert revert.title == "chartbeat (end of temporary access): account role Admin → Member"
    assert "Set Role to Member" in revert.instructions
    assert view.elevations[0].state is GrantState.ENDING
    assert desk.notifier.kinds()[-1] == "tasks_opened"
    assert chartbeat.get_access(email).account_role == "Admin", "until an admin sets it back"
    desk.clock.advance(timedelta(hours=1))
    assert sweep(desk.ctx).reverted == 0
    assert len([task for task in desk.ctx.load_view(request_id).tasks if task.is_open]) == 1, "asked once"  # type: ignore[union-attr]
    complete(desk.ctx, revert.id, person=desk.other_approver, evidence=None)
    assert chartbeat.get_access(email).account_role == "Member"
    view = desk.ctx.load_view(request_id)
    assert view is not None and view.elevations[0].state is GrantState.ENDED
    assert desk.audit(request_id).count("reverted") == 1
