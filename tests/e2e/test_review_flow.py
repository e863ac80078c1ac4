"""Access reviews through Slack: posted by the schedule, a row kept, a row removed through an ordinary request, and
`accessbot review` posting one on demand."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.console.local_slack import StoredMessage
from domain.access import AccessState
from handlers import ids
from platforms.sandbox import SandboxPlatform
from services.reviews import load_review
from tests.e2e.conftest import BOT_TOKEN, USERS, RunningBot, StartBot
from tests.fakes import FakeClock

ANA = "ana@agency.example"
ZOE = "zoe@agency.example"


def review_message(bot: RunningBot, review_id: int, timeout: float = 10.0) -> StoredMessage:
    """The review message as Slack shows it, once the bot has also noted where each row is (a click needs that)."""
    bot.slack.wait_for("chat.postMessage", lambda call: call.params["text"].startswith(f"Access review #{review_id}:"))
    deadline = time.monotonic() + timeout
    ctx = bot.runtime.services
    while (review := load_review(ctx, review_id)) is None or any(item.message is None for item in review.items):
        assert time.monotonic() < deadline, f"review #{review_id} never noted its messages"
        time.sleep(0.01)
    return next(m for m in bot.slack.messages.values() if m.text.startswith(f"Access review #{review_id}:"))


def press_row(bot: RunningBot, user: str, message: StoredMessage, email: str, action_id: str) -> httpx.Response:
    """Press a button on the row of `email` (each row has its own actions block)."""
    for index, block in enumerate(message.blocks):
        if block.get("type") == "section" and f"*{email}*" in block["text"]["text"]:
            actions = message.blocks[index + 1]
            button = next(element for element in actions["elements"] if element["action_id"] == action_id)
            request = bot.requests.button(
                user=USERS[user], message=message, action=button, block_id=actions["block_id"]
            )
            return bot.post(request)
    raise AssertionError(f"no row for {email}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def reviewed(start_bot: StartBot, clock: FakeClock) -> RunningBot:
    bot = start_bot(clock=clock)
    sandbox = bot.platform()
    assert isinstance(sandbox, SandboxPlatform)
    sandbox.apply(ANA, AccessState(member=True, account_role="Analyst", scopes={"production": "Viewer"}))
    sandbox.record_activity(ANA, clock.now() - timedelta(days=90))
    sandbox.apply(ZOE, AccessState(member=True, account_role="Consumer"))
    sandbox.record_activity(ZOE, clock.now() - timedelta(days=1))
    assert bot.runtime.scheduler.swept(), "the schedule starts counting here: no review for November 1"
    clock.current = datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC)
    return bot


def test_the_scheduled_review_is_posted_and_a_kept_row_is_recorded(reviewed: RunningBot) -> None:
    message = review_message(reviewed, 1)
    body = str(message.blocks)
    assert message.channel == reviewed.slack.channel_id("#access-approvals")
    assert "Access review #1: sandbox" in message.text and "(2 people, 1 flagged)" in message.text
    assert body.index(ANA) < body.index(ZOE), "flagged rows come first"
    assert "⚠️ no activity for 99 days" in body
    assert body.count(ids.REVIEW_KEEP) == 2 and body.count(ids.REVIEW_REMOVE) == 2

    press_row(reviewed, "bob", message, ZOE, ids.REVIEW_KEEP)
    assert "Recorded: kept" in reviewed.ephemeral("kept")
    redrawn = reviewed.slack.wait_for("chat.update", lambda call: call.params.get("ts") == message.ts)[-1]
    assert "✅ Kept by <@U0BOB>" in str(redrawn.params["blocks"])
    assert str(redrawn.params["blocks"]).count(ids.REVIEW_KEEP) == 1, "only Ana's row still has buttons"
    assert reviewed.platform().get_access(ZOE).member


def test_remove_on_a_row_opens_a_request_that_another_approver_approves(reviewed: RunningBot) -> None:
    message = review_message(reviewed, 1)
    press_row(reviewed, "carol", message, ANA, ids.REVIEW_REMOVE)
    assert "Removal request #1 is open for approval" in reviewed.ephemeral("Removal request")
    card = str(reviewed.card(1).blocks)
    assert "*Reason*\\naccess review #1: no activity for 99 days" in card
    assert "<@U0CAROL> asks to remove access" in card
    redrawn = reviewed.slack.wait_for("chat.update", lambda call: call.params.get("ts") == message.ts)[-1]
    assert "🗑️ Removal requested by <@U0CAROL>" in str(redrawn.params["blocks"]) and "request #1" in str(
        redrawn.params["blocks"]
    )

    reviewed.click("carol", 1, ids.APPROVE)
    assert "so someone else has to approve it" in reviewed.ephemeral("You asked for this access")
    reviewed.click("bob", 1, ids.APPROVE)
    reviewed.wait_for_card(1, "applied")
    assert reviewed.platform().get_access(ANA) == AccessState.absent()
    assert reviewed.audit(1)[:2] == ["requested", "review_removal_requested"]


def test_accessbot_review_posts_on_demand_and_prints_without_slack(
    reviewed: RunningBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    review_message(reviewed, 1)
    config = {
        "database_url": reviewed.runtime.settings.database_url,
        "approvals_channel": "#access-approvals",
        "platforms": {"sandbox": {"type": "sandbox", "approvers": ["U0BOB", "S0SECURITY"]}},
        "reviews": {"schedule": None},
    }
    (tmp_path / "accessbot.yml").write_text(json.dumps(config))
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(tmp_path / "accessbot.yml"))

    assert main(["review", "--print"]) == 0
    printed = capsys.readouterr().out
    assert "sandbox: 2 with access, 1 flagged" in printed
    assert f"! {ANA}" in printed and "! no activity for" in printed

    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", reviewed.slack.api_url)
    assert main(["review"]) == 0
    assert "posted access review #2 to #access-approvals: 2 rows, 1 flagged" in capsys.readouterr().out
    second = review_message(reviewed, 2)
    assert f"*{ANA}*" in str(second.blocks)

    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert main(["review"]) == 2
    assert "accessbot review --print" in capsys.readouterr().err
