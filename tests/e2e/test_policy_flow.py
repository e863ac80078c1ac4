"""The approval policy through the real endpoint: two approvers, one from security; tickets; break-glass; expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.access import AccessState
from handlers import ids
from platforms.settings import SandboxSettings
from tests.e2e.conftest import USERS, StartBot
from tests.fakes import FakeClock

ANA = "ana@agency.example"
APPROVERS = {"sandbox": SandboxSettings(approvers=("U0BOB", "U0DAVE", "S0SECURITY"))}


def test_an_admin_grant_needs_two_approvers_one_from_security(start_bot: StartBot) -> None:
    bot = start_bot(platforms=APPROVERS, policy={"security_group": "S0SECURITY"})
    bot.command("alice", f"add {ANA} sandbox admin reason: platform owner for the migration")
    card = bot.card(1)
    assert "needs 2 approvals from different people (0 so far: none yet)" in str(card.blocks)
    assert "at least one approval from <!subteam^S0SECURITY>" in str(card.blocks)
    assert "rules: org-admin" in str(card.blocks)

    bot.click("bob", 1, ids.APPROVE)
    assert "is recorded; it needs 1 more, from someone else" in bot.ephemeral("is recorded")
    progressed = bot.slack.wait_for("chat.update", lambda call: "1 so far: <@U0BOB>" in str(call.params["blocks"]))
    assert progressed

    bot.click("bob", 1, ids.APPROVE)
    assert "You have approved this already" in bot.ephemeral("approved this already")
    bot.click("dave", 1, ids.APPROVE)
    assert "The last approval must come from S0SECURITY" in bot.ephemeral("must come from")
    assert bot.platform().get_access(ANA) == AccessState.absent(), "nothing changed"

    bot.click("carol", 1, ids.APPROVE)
    applied = bot.wait_for_card(1, "applied")
    assert "Approved by <@U0BOB>, <@U0CAROL>" in str(applied.params["blocks"])
    assert bot.platform().get_access(ANA).account_role == "Admin"
    assert bot.audit(1)[:6] == [
        "requested",
        "approval_recorded",
        "approval_refused",
        "approval_refused",
        "approved",
        "apply_started",
    ]


def test_rules_ask_for_a_ticket_and_refuse_permanent_high_risk_grants(start_bot: StartBot) -> None:
    policy = {
        "rules": [
            {
                "name": "production",
                "match": {"scopes": ["production"]},
                "ticket_pattern": r"OPS-\d+",
                "permanent": "refuse",
                "max_duration": "1d",
            }
        ]
    }
    bot = start_bot(policy=policy)
    bot.command("alice", f"add {ANA} sandbox viewer on production for 2h reason: x")
    # Slack shows &lt; as <: a refusal's text is escaped, since it may quote what someone typed.
    assert "A ticket is required: add `ticket: &lt;id&gt;`" in bot.ephemeral("ticket is required")
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: x ticket: OPS-7")
    assert "A permanent grant is not allowed by production: ask `for 1d` or less." in bot.ephemeral("permanent grant")
    bot.command("alice", f"add {ANA} sandbox viewer on production for 1d reason: x ticket: OPS-7")
    bot.card(1)
    assert bot.slack.calls_to("chat.postMessage")[0].params["text"].startswith("Access request #1 ")


def test_break_glass_applies_at_once_tells_the_team_and_opens_a_review(start_bot: StartBot) -> None:
    policy = {"break_glass": {"members": ["U0DAVE"], "max_duration": "2h", "notify_channel": "#security"}}
    bot = start_bot(policy=policy)
    reason = "INC-812 event pipeline down, fixing the tracking config"
    bot.command("dave", f"break-glass dave@client.example sandbox architect for 1h reason: {reason}")
    assert "Break-glass request #1 applied" in bot.ephemeral("Break-glass request")
    alert = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "#security")[0]
    assert alert.params["text"].startswith(
        "🚨 Break-glass: <@U0DAVE> took account role Architect on sandbox for dave@client.example, for 1h, without "
        "approval."
    )
    assert bot.platform().get_access("dave@client.example").account_role == "Architect"
    bot.wait_for_card(1, "applied")
    review = bot.slack.wait_for(
        "chat.postMessage", lambda call: "Review the break-glass use" in str(call.params.get("blocks"))
    )[0]
    assert ids.TASK_DONE in str(review.params["blocks"])

    def close_review(user: str) -> None:
        form = bot.open_form(user, bot.message_with(ids.TASK_DONE), ids.TASK_DONE, ids.TASK_FORM)
        values = {ids.TASK_EVIDENCE: {ids.TASK_EVIDENCE: {"type": "plain_text_input", "value": "checked the log"}}}
        bot.post(bot.requests.view_submission(user=USERS[user], view=form, values=values))

    close_review("dave")
    assert bot.slack.wait_for("chat.postEphemeral", lambda call: "someone else has to review it" in call.params["text"])
    close_review("bob")
    bot.slack.wait_for(
        "chat.update",
        lambda call: "review" in str(call.params.get("blocks")).lower() and "✅" in str(call.params.get("blocks")),
    )
    assert bot.audit(1).count("manual_step_done") == 1 and "break_glass" in bot.audit(1)

    bot.command("dave", f"break-glass dave@client.example sandbox analyst for 1h reason: {reason}")
    assert "used break-glass 1 time(s) in the last 24 hours" in bot.ephemeral("used break-glass")
    bot.command("alice", f"break-glass {ANA} sandbox analyst for 1h reason: {reason}")
    assert "not in the break-glass group" in bot.ephemeral("break-glass group")


def test_undecided_requests_are_reminded_once_then_expire(start_bot: StartBot) -> None:
    clock = FakeClock(datetime.now(UTC))
    bot = start_bot(clock=clock, policy={"pending_expiry": "3d", "remind_before": "1d"})
    bot.command("alice", f"add {ANA} sandbox analyst reason: x")
    card = bot.card(1)
    assert "expires <!date^" in str(card.blocks)
    clock.advance(timedelta(days=2))
    reminder = bot.slack.wait_for("chat.postMessage", lambda call: "still needs a decision" in call.params["text"])
    assert reminder[0].params["thread_ts"] == card.ts and reminder[0].params["reply_broadcast"] is True
    clock.advance(timedelta(days=1))
    expired = bot.wait_for_card(1, "expired")
    assert "Expired: nobody decided in time" in str(expired.params["blocks"])
    dm = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "U0ALICE")[0]
    assert "expired: nobody decided in time" in dm.params["text"]
    bot.settle()
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if "still needs a decision" in c.params["text"]]) == 1
    assert bot.audit(1) == ["requested", "approvers_reminded", "expired"]


def test_an_undecided_removal_never_expires_and_is_chased_past_its_deadline_then_with_the_security_group(
    start_bot: StartBot,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    bot = start_bot(
        clock=clock,
        policy={"pending_expiry": "3d", "security_group": "S0SECURITY", "removal_chase_every": "4h"},
    )
    bot.platform().apply(ANA, AccessState(member=True, account_role="Analyst"))
    bot.command("alice", f"remove {ANA} sandbox reason: engagement ended")
    card = bot.card(1)
    assert "to be decided by <!date^" in str(card.blocks) and "a removal never expires" in str(card.blocks)
    assert "expires <!date^" not in str(card.blocks)

    def chases() -> list[str]:
        return [
            c.params["text"] for c in bot.slack.calls_to("chat.postMessage") if "past its deadline" in c.params["text"]
        ]

    clock.advance(timedelta(hours=24, minutes=1))  # the references: removal within 24 hours
    first = bot.slack.wait_for("chat.postMessage", lambda call: "past its deadline" in call.params["text"])[0]
    assert first.params["thread_ts"] == card.ts and first.params["reply_broadcast"] is True
    assert "<!subteam^S0SECURITY>, please see" not in first.params["text"], "the approvers first"
    clock.advance(timedelta(hours=4))
    bot.slack.wait_for("chat.postMessage", lambda call: "past its deadline" in call.params["text"], count=2)
    assert "<!subteam^S0SECURITY>, please see that someone decides" in chases()[1]

    clock.advance(timedelta(days=3))  # long past the 3 days an addition would have had
    bot.slack.wait_for("chat.postMessage", lambda call: "past its deadline" in call.params["text"], count=3)
    bot.settle()
    view = bot.runtime.services.load_view(1)
    assert view is not None and view.status.value == "pending", "never expired with the access in place"
    assert bot.platform().get_access(ANA).member
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    assert not bot.platform().get_access(ANA).member
