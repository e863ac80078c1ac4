"""Invitations: a member a platform invites is tracked until they accept (the platform says so, or an admin does),
the approvers are reminded before the invitation expires, Re-sent starts its time again, and an account that goes
first voids it. Against a real SCIM server that keeps invited users inactive."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from domain.lifecycle import TaskKind
from platforms.settings import ScimSettings
from services.sweeper import sweep
from services.task_actions import TaskOutcome, complete, resent
from services.views import TaskView
from tests.platforms.test_scim import settings_for
from tests.scim_server import ScimServer
from tests.services.desk import ANA, Desk, approve_fully, make_desk


@pytest.fixture
def desk(tmp_path: Path, scim_server: ScimServer) -> Desk:
    inviting: ScimSettings = settings_for(scim_server, invitation_days=14, approvers=["UBOB"])
    return make_desk(tmp_path, settings={"app": inviting})  # type: ignore[dict-item]


def invitation(desk: Desk, request_id: int) -> TaskView:
    view = desk.ctx.load_view(request_id)
    assert view is not None
    (task,) = [task for task in view.tasks if task.kind is TaskKind.INVITATION]
    return task


def invited(desk: Desk, scim_server: ScimServer) -> tuple[int, str]:
    """Add ANA; the service keeps the new user inactive until they accept, as an inviting service does."""
    request_id = desk.submit(f"add {ANA} app Editor reason: launch")
    approve_fully(desk, request_id)
    with scim_server.admin() as admin:
        (user,) = admin.get("Users", params={"filter": f'userName eq "{ANA}"'}).json()["Resources"]
    scim_server.patch_user(user["id"], "active", False)
    return request_id, user["id"]


def test_a_new_member_is_invited_until_the_platform_says_they_accepted(desk: Desk, scim_server: ScimServer) -> None:
    request_id, user = invited(desk, scim_server)
    task = invitation(desk, request_id)
    assert task.is_open and task.due_by == desk.clock.now() + timedelta(days=14)
    assert "app tells the bot when they accept" in task.instructions
    assert ("opened", task) in [(kind, item) for kind, item in desk.notifier.tasks], "posted to the approvers"
    assert desk.audit(request_id).count("invitation_sent") == 1

    sweep(desk.ctx)
    assert invitation(desk, request_id).is_open, "not accepted yet"
    scim_server.patch_user(user, "active", True)
    sweep(desk.ctx)
    assert invitation(desk, request_id).is_open, "asked at most once an hour"
    desk.clock.advance(timedelta(hours=1, minutes=1))
    assert sweep(desk.ctx).invitations_closed == 1
    closed = invitation(desk, request_id)
    assert not closed.is_open and closed.done_by == "accessbot" and "accepted" in (closed.evidence or "")
    assert "invitation_accepted" in desk.audit(request_id)


def test_the_approvers_are_reminded_before_it_expires_and_re_sent_starts_it_again(
    desk: Desk, scim_server: ScimServer
) -> None:
    request_id, _ = invited(desk, scim_server)
    due = invitation(desk, request_id).due_by
    assert due is not None
    desk.clock.advance(timedelta(days=6))
    sweep(desk.ctx)
    assert [kind for kind, _ in desk.notifier.tasks].count("reminder") == 0
    desk.clock.advance(timedelta(days=1, minutes=1))  # a week before it expires
    sweep(desk.ctx)
    assert [kind for kind, _ in desk.notifier.tasks].count("reminder") == 1

    refused = resent(desk.ctx, invitation(desk, request_id).id, person=desk.requester)
    assert refused.outcome is TaskOutcome.REFUSED
    renewed = resent(desk.ctx, invitation(desk, request_id).id, person=desk.approver)
    assert renewed.outcome is TaskOutcome.DONE and renewed.task is not None
    assert renewed.task.due_by == desk.clock.now() + timedelta(days=14)
    assert "invitation_resent" in desk.audit(request_id)
    desk.clock.advance(timedelta(days=1))
    sweep(desk.ctx)
    assert [kind for kind, _ in desk.notifier.tasks].count("reminder") == 1, "its time started again"


def test_the_last_reminder_comes_when_it_expires(desk: Desk, scim_server: ScimServer) -> None:
    request_id, _ = invited(desk, scim_server)
    due = invitation(desk, request_id).due_by
    assert due is not None
    desk.clock.advance(timedelta(days=7, minutes=1))
    sweep(desk.ctx)
    # Reminded every day (tasks.remind_every); the one after the sixth falls at the expiry itself.
    for _ in range(7):
        desk.clock.advance(timedelta(days=1))
        sweep(desk.ctx)
    reminders = [item for kind, item in desk.notifier.tasks if kind == "reminder"]
    assert len(reminders) == 8 and invitation(desk, request_id).is_open


def test_an_admin_confirms_acceptance_and_an_account_that_goes_first_voids_it(
    desk: Desk, scim_server: ScimServer
) -> None:
    request_id, user = invited(desk, scim_server)
    refused = complete(desk.ctx, invitation(desk, request_id).id, person=desk.requester, evidence="trust me")
    assert refused.outcome is TaskOutcome.REFUSED
    confirmed = complete(desk.ctx, invitation(desk, request_id).id, person=desk.approver, evidence="they logged in")
    assert confirmed.outcome is TaskOutcome.DONE and "invitation_accepted" in desk.audit(request_id)

    second, again = invited_again(desk, scim_server, user)
    assert invitation(desk, second).is_open, "a new invitation for the new account"
    with scim_server.admin() as admin:
        admin.delete(f"Users/{again}").raise_for_status()
    desk.clock.advance(timedelta(hours=1, minutes=1))
    sweep(desk.ctx)
    closed = invitation(desk, second)
    assert not closed.is_open and "void" in (closed.evidence or "")
    assert "invitation_void" in desk.audit(second)


def invited_again(desk: Desk, scim_server: ScimServer, user: str) -> tuple[int, str]:
    """Remove ANA (delete), then add them again: a new invitation."""
    with scim_server.admin() as admin:
        admin.delete(f"Users/{user}").raise_for_status()
    return invited(desk, scim_server)
