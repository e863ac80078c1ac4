"""Chartbeat's manual steps through Slack: posted with instructions, done with evidence, the request applied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.access import AccessState
from handlers import ids
from platforms.settings import ChartbeatSettings
from tests.e2e.conftest import USERS, RunningBot, StartBot
from tests.scim_server import ScimServer, running

ANA = "ana@agency.example"
OWNER = ("owner@client.example", "owner-password")


@pytest.fixture
def chartbeat_server() -> Iterator[ScimServer]:
    with running(token=None, basic=OWNER) as server:
        yield server


@pytest.fixture
def bot(start_bot: StartBot, chartbeat_server: ScimServer) -> RunningBot:
    chartbeat = ChartbeatSettings.model_validate(
        {
            "base_url": chartbeat_server.url,
            "username": OWNER[0],
            "password": OWNER[1],
            "approvers": ["U0BOB", "U0CAROL"],
            "sites": ["example.com"],
            "rate_limit_per_minute": 60_000,
        }
    )
    return start_bot(platforms={"chartbeat": chartbeat})


def test_manual_steps_are_posted_done_with_evidence_and_then_the_request_is_applied(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} chartbeat access on example.com reason: newsroom dashboards")
    card = bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    waiting = bot.wait_for_card(1, "awaiting_manual")
    assert "Not applied yet" in str(waiting.params["blocks"])
    tasks = bot.slack.wait_for(
        "chat.postMessage", lambda call: ids.TASK_DONE in str(call.params.get("blocks")), count=2
    )
    assert all(call.params["thread_ts"] == card.ts for call in tasks)
    assert "Set Role to Member" in str(tasks[0].params["blocks"])
    assert "check example.com" in str(tasks[1].params["blocks"])
    assert not any(call.params["channel"] == "U0ALICE" for call in bot.slack.calls_to("chat.postMessage")), (
        "the requester hears nothing until it is really applied"
    )

    bot.done("bob", "site checked: https://files.example/shot.png")
    bot.done("carol", "role set")
    applied = bot.wait_for_card(1, "applied")
    assert "☑" in str(applied.params["blocks"])
    bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "U0ALICE")
    updated = [call for call in bot.slack.calls_to("chat.update") if "✅" in str(call.params.get("blocks"))]
    assert any(
        "by <@U0BOB>" in str(call.params["blocks"]) and "shot.png" in str(call.params["blocks"]) for call in updated
    )
    assert bot.platform("chartbeat").get_access(ANA) == AccessState(
        member=True, account_role="Member", scopes={"example.com": "Access"}
    )
    assert bot.audit(1).count("manual_step_done") == 2


def test_the_person_whose_access_it_is_cannot_mark_their_own_step_done(bot: RunningBot) -> None:
    bot.command("alice", "add <@U0ANA|ana> chartbeat member reason: x")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "awaiting_manual")
    bot.slack.wait_for("chat.postMessage", lambda call: ids.TASK_DONE in str(call.params.get("blocks")))
    message = bot.message_with(ids.TASK_DONE)
    form = bot.open_form("ana", message, ids.TASK_DONE, ids.TASK_FORM)
    values = {ids.TASK_EVIDENCE: {ids.TASK_EVIDENCE: {"type": "plain_text_input", "value": None}}}
    bot.post(bot.requests.view_submission(user=USERS["ana"], view=form, values=values))
    note = bot.slack.wait_for("chat.postEphemeral", lambda call: "your own access" in call.params["text"])[0]
    assert note.params["user"] == "U0ANA"
    assert "manual_step_done" not in bot.audit(1)
