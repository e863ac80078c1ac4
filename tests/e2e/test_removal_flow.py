"""Removal through Slack: both methods, offboarding everywhere with one platform failing then retried, the checklist
done with evidence, and the notice for the person's organisation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.console.local_slack import StoredMessage
from domain.access import AccessState
from domain.offboarding import GENERIC_CHECKLIST
from handlers import ids
from platforms.base import Platform
from platforms.settings import SandboxSettings
from tests.e2e.conftest import USERS, RunningBot, StartBot
from tests.fakes import FlakyPlatform

ANA = "ana@agency.example"
HELD = AccessState(member=True, account_role="Analyst", scopes={"production": "Viewer", "staging": "Admin"})
TWO = {
    "sandbox": SandboxSettings(approvers=("U0BOB",), label="Sandbox US"),
    "sandbox-eu": SandboxSettings(approvers=("U0BOB",), label="Sandbox EU", removal_method="revoke"),
}


def submit_task_form(bot: RunningBot, user: str, message: StoredMessage, action_id: str, text: str) -> dict[str, Any]:
    """Press the button that opens a task form, fill it in and submit it; returns the form."""
    form = bot.open_form(user, message, action_id, ids.TASK_FORM)
    values = {ids.TASK_EVIDENCE: {ids.TASK_EVIDENCE: {"type": "plain_text_input", "value": text}}}
    bot.post(bot.requests.view_submission(user=USERS[user], view=form, values=values))
    return form


def thread_texts(bot: RunningBot, request_id: int) -> list[str]:
    card = bot.card(request_id)
    return [
        f"{message.text} {message.blocks}" for message in bot.slack.messages.values() if message.thread_ts == card.ts
    ]


def follow_up_messages(bot: RunningBot, request_id: int, count: int) -> list[Any]:
    card = bot.card(request_id)
    return bot.slack.wait_for(
        "chat.postMessage",
        lambda call: call.params.get("thread_ts") == card.ts and "After the removal" in str(call.params.get("blocks")),
        count=count,
    )


def test_delete_waits_for_the_steps_before_it_then_removes_the_member_and_offers_checklist_and_notice(
    start_bot: StartBot,
) -> None:
    bot = start_bot(platforms={"sandbox": SandboxSettings(approvers=("U0BOB",), removal_checklist=GENERIC_CHECKLIST)})
    bot.platform().apply(ANA, HELD)
    bot.command("alice", f"remove {ANA} sandbox delete reason: engagement ended ticket: OPS-40")
    card = bot.card(1)
    body = str(card.blocks)
    assert "▶ *delete*: the member is deleted. Permanent" in body
    assert "◦ *revoke*: the account is kept with the lowest role (sandbox: Read-Only)" in body
    assert "now: Analyst; production: Viewer, staging: Admin" in body
    assert "after approval: delete the member" in body

    bot.click("bob", 1, ids.APPROVE)
    gated = str(
        bot.slack.wait_for("chat.update", lambda call: "steps before the removal" in str(call.params["blocks"]))[
            -1
        ].params["blocks"]
    )
    assert "🚧 not removed yet: the steps before the removal come first" in gated
    assert "☐ sandbox: Transfer dashboards and saved work (before the removal, open)" in gated
    steps = bot.slack.wait_for(
        "chat.postMessage",
        lambda call: call.params.get("thread_ts") == card.ts and "Before the removal" in str(call.params.get("blocks")),
        count=2,
    )
    assert all(ids.TASK_SKIP in str(call.params["blocks"]) for call in steps)
    assert bot.platform().get_access(ANA) == HELD, "nothing removed before its steps"
    transfer, tokens = (next(m for m in bot.slack.messages.values() if m.ts == c.response["ts"]) for c in steps)
    submit_task_form(bot, "bob", transfer, ids.TASK_DONE, "moved to ops@client")
    bot.slack.wait_for("chat.update", lambda call: call.params.get("ts") == transfer.ts)
    form = submit_task_form(bot, "bob", tokens, ids.TASK_SKIP, "no integration uses them")
    assert form["submit"]["text"] == "Skip" and form["blocks"][1]["optional"] is False, "a reason is required"
    skipped = bot.slack.wait_for("chat.update", lambda call: call.params.get("ts") == tokens.ts)[-1]
    assert "skipped by <@U0BOB>" in str(skipped.params["blocks"]) and "no integration uses them" in str(skipped.params)

    applied = bot.wait_for_card(1, "applied")
    assert "applied and verified: not a member" in str(applied.params["blocks"])
    assert "☑ sandbox: Replace the API tokens integrations use: skipped by <@U0BOB> (no integration uses them)" in str(
        applied.params["blocks"]
    )
    assert bot.platform().get_access(ANA) == AccessState.absent()

    tasks = follow_up_messages(bot, 1, 3)
    titles = [str(call.params["text"]) for call in tasks]
    assert any("Revoke the API tokens" in title for title in titles)
    assert not any("Transfer dashboards" in title for title in titles), "done before"
    assert all(ids.TASK_DONE in str(call.params["blocks"]) for call in tasks)
    notice = bot.slack.wait_for("chat.postMessage", lambda call: "Removal notice" in call.params["text"])[-1]
    text = str(notice.params["blocks"])
    assert notice.params["thread_ts"] == card.ts
    assert "Subject: sandbox Access Removed for ana" in text
    assert f"We have removed sandbox access for {ANA} as of" in text and "per ticket OPS-40." in text
    assert "please contact\\nalice (alice@agency.example) within 5 business days" in text
    assert bot.audit(1) == [
        "requested",
        "approved",
        "manual_step_done",
        "manual_step_skipped",
        "apply_started",
        "reconcile_planned",
        "applied",
    ]


def test_revoke_keeps_the_account_with_the_lowest_role_and_no_scopes(bot: RunningBot) -> None:
    bot.platform().apply(ANA, HELD)
    bot.command("alice", f"remove {ANA} sandbox revoke reason: paused")
    assert "▶ *revoke*" in str(bot.card(1).blocks)
    bot.click("bob", 1, ids.APPROVE)
    applied = bot.wait_for_card(1, "applied")
    assert "applied and verified: Read-Only; no projects or sites" in str(applied.params["blocks"])
    assert bot.platform().get_access(ANA) == AccessState(member=True, account_role="Read-Only")
    tasks = follow_up_messages(bot, 1, 4)
    titles = [str(call.params["text"]) for call in tasks]
    assert not any("Transfer dashboards" in title for title in titles)
    # Both references: "Add a note: Access revoked [date] per [ticket number]", filled in.
    note = next(str(call.params["blocks"]) for call in tasks if "Add the account note" in call.params["text"])
    assert f'add the note "Access revoked {datetime.now(UTC).date().isoformat()} per request #1."' in note, note


def test_offboarding_everywhere_survives_one_failing_platform_and_retries_it_alone(start_bot: StartBot) -> None:
    def flaky_eu(platform: Platform) -> Platform:
        return FlakyPlatform(platform, failures=1) if platform.name == "sandbox-eu" else platform

    bot = start_bot(platforms=TWO, wrap=flaky_eu)
    for name in TWO:
        platform = bot.platform(name)
        (platform.inner if isinstance(platform, FlakyPlatform) else platform).apply(ANA, HELD)
    bot.command("alice", f"remove {ANA} all reason: engagement ended ticket: OPS-41")
    card = str(bot.card(1).blocks)
    assert "*Sandbox US*  now:" in card and "*Sandbox EU*  now:" in card
    assert "*Method*\\ndelete, revoke" in card

    bot.click("bob", 1, ids.APPROVE)
    # The card shows each platform's result as it comes: the US one done before the request as a whole is.
    bot.slack.wait_for(
        "chat.update", lambda call: "✅ applied and verified: not a member" in str(call.params["blocks"])
    )
    failed = str(bot.wait_for_card(1, "failed").params["blocks"])
    assert "✅ applied and verified: not a member" in failed
    assert "❌ failed (attempt 1): sandbox-eu: HTTP 503" in failed
    assert ids.RETRY in failed
    assert bot.platform("sandbox").get_access(ANA) == AccessState.absent()
    assert bot.platform("sandbox-eu").get_access(ANA) == HELD
    follow_up_messages(bot, 1, 3)  # the US checklist, for the part that is done
    assert not any("Removal notice" in call.params["text"] for call in bot.slack.calls_to("chat.postMessage"))

    bot.click("bob", 1, ids.RETRY)
    applied = str(bot.wait_for_card(1, "applied").params["blocks"])
    assert "✅ applied and verified: Read-Only; no projects or sites" in applied
    eu = bot.platform("sandbox-eu")
    assert isinstance(eu, FlakyPlatform) and eu.applies == 2
    assert eu.get_access(ANA) == AccessState(member=True, account_role="Read-Only")
    assert len(follow_up_messages(bot, 1, 7)) == 7  # US 3 once (deleted), EU 4 (revoked: with the account note)
    notice = bot.slack.wait_for("chat.postMessage", lambda call: "Removal notice" in call.params["text"])
    assert len(notice) == 1
    assert "*Sandbox US*" in str(notice[0].params["blocks"]) and "*Sandbox EU*" in str(notice[0].params["blocks"])
    trail = bot.audit(1)
    assert trail.count("applied") == 2 and trail.count("failed") == 1 and trail.count("retried") == 1


def test_checklist_tasks_are_done_with_evidence_and_show_on_the_card(bot: RunningBot) -> None:
    bot.platform().apply(ANA, HELD)
    bot.command("alice", f"remove {ANA} sandbox reason: engagement ended")
    bot.click("bob", 1, ids.APPROVE)
    tasks = follow_up_messages(bot, 1, 3)
    first = next(message for message in bot.slack.messages.values() if message.ts == tasks[0].response["ts"])
    form = bot.open_form("bob", first, ids.TASK_DONE, ids.TASK_FORM)
    values = {ids.TASK_EVIDENCE: {ids.TASK_EVIDENCE: {"type": "plain_text_input", "value": "revoked tk_9 in Heap"}}}
    bot.post(bot.requests.view_submission(user=USERS["bob"], view=form, values=values))
    done = bot.slack.wait_for("chat.update", lambda call: call.params.get("ts") == first.ts)[-1]
    assert "done by <@U0BOB>" in str(done.params["blocks"]) and "revoked tk_9 in Heap" in str(done.params["blocks"])
    redrawn = bot.slack.wait_for(
        "chat.update",
        lambda call: "☑ sandbox: Revoke the API tokens and keys they owned: done by <@U0BOB>" in str(call.params),
    )
    assert "☐ sandbox: Remove from IdP/SSO groups (follow-up, open)" in str(redrawn[-1].params["blocks"])
    assert bot.audit(1)[-1] == "manual_step_done"


def test_the_person_hears_after_the_removal_and_the_compliance_channel_that_it_is_complete(
    start_bot: StartBot,
) -> None:
    bot = start_bot(removals={"compliance_channel": "#security"})
    bot.platform().apply(ANA, HELD)
    bot.command("alice", "remove <@U0ANA|ana> sandbox delete reason: engagement ended ticket: OPS-41")
    bot.card(1)
    bot.settle()
    assert not [call for call in bot.slack.calls_to("chat.postMessage") if call.params["channel"] == "U0ANA"], (
        "never told before the removal"
    )
    bot.click("bob", 1, ids.APPROVE)
    applied = bot.wait_for_card(1, "applied")
    assert "📣 Told: <@U0ALICE> and <@U0ANA> by DM; #security that the removal is complete" in str(
        applied.params["blocks"]
    )
    told = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "U0ANA")[0]
    assert "✅ Request #1 applied for ana@agency.example" in told.params["text"]
    assert "You are told because it is your access; <@U0ALICE> asked for it." in told.params["text"]
    security = bot.slack.channel_id("#security")
    done = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] in ("#security", security))[0]
    assert done.params["text"].startswith("✅ Removal complete: ana@agency.example from sandbox (delete), request #1")
    assert "approved by <@U0BOB>" in done.params["text"]
    assert bot.platform().get_access(ANA) == AccessState.absent()


def test_a_security_removal_says_so_on_its_card_and_is_applied_at_once(start_bot: StartBot) -> None:
    bot = start_bot(platforms={"sandbox": SandboxSettings(approvers=("U0BOB",), removal_checklist=GENERIC_CHECKLIST)})
    bot.platform().apply(ANA, HELD)
    bot.command("alice", f"remove {ANA} sandbox delete now reason: laptop stolen")
    assert "🔒 a security removal: applied as soon as it is approved" in str(bot.card(1).blocks)
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    assert bot.platform().get_access(ANA) == AccessState.absent()
    titles = [str(call.params["text"]) for call in follow_up_messages(bot, 1, 5)]
    assert any("Transfer dashboards" in title for title in titles), "the steps before, done after"
