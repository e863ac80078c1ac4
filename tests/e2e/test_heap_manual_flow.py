"""Heap without SCIM (manual mode): every step is a task with the place in Heap's UI, done by an admin; the request
is applied once all are done, and a temporary grant's revert is posted as tasks at its end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.access import AccessState
from handlers import ids
from platforms.settings import HeapSettings
from tests.e2e.conftest import RunningBot, StartBot
from tests.fakes import FakeClock

ANA = "ana@agency.example"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def bot(start_bot: StartBot, clock: FakeClock) -> RunningBot:
    # No base_url or token: Heap without SCIM, so manual mode.
    return start_bot(platforms={"heap": HeapSettings(approvers=("U0BOB", "U0CAROL"))}, clock=clock)


def tasks_posted(bot: RunningBot, count: int, *, after: int = 0) -> list[str]:
    calls = bot.slack.wait_for(
        "chat.postMessage", lambda call: ids.TASK_DONE in str(call.params.get("blocks")), count=after + count
    )
    return [str(call.params["blocks"]) for call in calls[after:]]


def test_an_add_is_an_invitation_and_a_project_role_done_in_heaps_ui_then_applied(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} heap viewer on production reason: dashboards")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    waiting = bot.wait_for_card(1, "awaiting_manual")
    assert "Not applied yet" in str(waiting.params["blocks"])
    invite, project = tasks_posted(bot, 2)
    assert "Account → Manage → Members and invite ana@agency.example" in invite
    assert "with the Organization Role Consumer" in invite
    assert "In the Projects section, click + Add (or check production) and give it the role Viewer" in project
    assert bot.platform("heap").get_access(ANA) == AccessState.absent(), "nothing is pretended"

    bot.done("carol", "role set: https://files.example/project.png")
    bot.done("bob", "invited")
    bot.wait_for_card(1, "applied")
    assert bot.platform("heap").get_access(ANA) == AccessState(
        member=True, account_role="Consumer", scopes={"production": "Viewer"}
    )
    assert bot.audit(1).count("manual_step_done") == 2


def test_a_temporary_grant_ends_with_the_removal_posted_as_a_task_at_expiry(bot: RunningBot, clock: FakeClock) -> None:
    bot.command("alice", f"add {ANA} heap analyst for 2h reason: launch")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    tasks_posted(bot, 1)
    bot.done("carol", "invited as Analyst")
    bot.wait_for_card(1, "applied")
    assert bot.platform("heap").get_access(ANA).account_role == "Analyst"

    (invitation,) = tasks_posted(bot, 1, after=1)
    assert "Invitation sent" in invitation and "accepts the invitation" in invitation

    clock.advance(timedelta(hours=2, minutes=1))
    (removal,) = tasks_posted(bot, 1, after=2)
    assert "click the three-dot menu (⋮) or Actions next to them, select Remove Member" in removal
    assert bot.platform("heap").get_access(ANA).member, "still there until an admin does it"
    bot.done("carol", "removed")
    ended = bot.slack.wait_for(
        "chat.postMessage",
        lambda call: "temporary access on heap" in call.params["text"] and "ended" in call.params["text"],
    )[-1]
    assert bot.platform("heap").get_access(ANA) == AccessState.absent()
    # What the end took away is what the admin did by hand, not "no change" because it was done before the bot looked.
    assert "no change" not in ended.params["text"] and "Analyst" in ended.params["text"], ended.params["text"]
    # The account went before its invitation was accepted: the next look at the invitation finds it void.
    clock.advance(timedelta(hours=1, minutes=1))
    bot.wait_for_audit(1, "invitation_void")


def test_an_invitation_shows_until_accepted_is_chased_before_it_expires_and_re_sent(
    bot: RunningBot, clock: FakeClock
) -> None:
    bot.command("alice", f"add {ANA} heap analyst reason: launch")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    tasks_posted(bot, 1)
    bot.done("carol", "invited as Analyst")
    card = str(bot.wait_for_card(1, "applied").params["blocks"])
    # Heap's invite "expires a month from when it's sent"; the card says so, and the thread gets a task for it.
    expires = (clock.now() + timedelta(days=30)).date().isoformat()
    assert f"{ANA} is invited and has not accepted yet; the invitation expires" in card and expires in card, card
    (invitation,) = tasks_posted(bot, 1, after=1)
    assert "click ana@agency.example to open the teammate details pane, and click the envelope icon" in invitation
    assert ids.TASK_RESENT in invitation and "Accepted…" in invitation
    assert bot.audit(1).count("invitation_sent") == 1

    bot.command("bob", f"list {ANA}")
    assert "invited, not accepted yet" in bot.ephemeral("invited, not accepted yet")

    # A week before it expires the approvers are reminded, with the steps to re-send it.
    clock.advance(timedelta(days=23, minutes=1))
    reminder = bot.slack.wait_for(
        "chat.postMessage",
        lambda call: "Still open" in str(call.params.get("blocks")) and "invitation" in str(call.params),
    )[-1]
    assert "The invitation expires" in str(reminder.params["blocks"]) and reminder.params.get("reply_broadcast")
    message = bot.message_with(ids.TASK_RESENT)
    bot.press("alice", message, ids.TASK_RESENT)  # not an approver of heap
    assert "Nothing was recorded" in bot.ephemeral("Nothing was recorded")
    bot.press("bob", message, ids.TASK_RESENT)
    renewed = (clock.now() + timedelta(days=30)).date().isoformat()
    assert renewed in bot.ephemeral("Recorded as re-sent")
    bot.wait_for_audit(1, "invitation_resent")

    # Heap cannot tell the bot; an admin says when they accepted.
    bot.done("carol", "ana logged in and appears as a member")
    bot.wait_for_audit(1, "invitation_accepted")
    bot.command("bob", f"list {ANA}")
    listings = bot.slack.wait_for("response_url", lambda call: "Access overview" in str(call.params), count=2)
    assert "invited" not in str(listings[-1].params), listings[-1].params
