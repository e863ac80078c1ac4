"""Slack's Web API down while the bot works: the change is applied and recorded at once, and the messages about it
are sent, in order, when Slack is back."""

from __future__ import annotations

import itertools
import time

import pytest
from sqlmodel import Session, select

from bot.console.local_slack import SlackCall
from domain.access import AccessState
from handlers import ids
from platforms.settings import SandboxSettings
from storage.models import AccessRequest, SlackOutbox
from storage.outbox import OutboxStatus
from tests.e2e.conftest import RunningBot, StartBot

ANA = "ana@agency.example"
VIEWER = AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"})


def kept(bot: RunningBot) -> list[SlackOutbox]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(SlackOutbox).order_by(SlackOutbox.id)))  # type: ignore[arg-type]


@pytest.fixture
def bot(start_bot: StartBot) -> RunningBot:
    bot = start_bot(platforms={"sandbox": SandboxSettings(approvers=("U0BOB",))})
    # Alice and Bob used Slack a moment ago, so the bot knows who they are when Slack stops answering.
    for person in ("U0ALICE", "U0BOB"):
        bot.runtime.services.directory.person(person)
    return bot


def test_an_approval_during_an_outage_is_applied_and_its_messages_follow_when_slack_returns(bot: RunningBot) -> None:
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: dashboards")
    card = bot.card(1)
    bot.slack.outage(True)
    bot.click("bob", 1, ids.APPROVE)
    bot.settle()

    assert bot.platform().get_access(ANA) == VIEWER, "the change does not wait for Slack"
    assert bot.audit(1) == ["requested", "approved", "apply_started", "reconcile_planned", "applied"]
    waiting = [row for row in kept(bot) if row.status == OutboxStatus.PENDING]
    # The card, its thread, the requester and the person whose access it is (ana).
    assert [row.method for row in waiting] == ["chat.update"] + ["chat.postMessage"] * 3
    assert len([row for row in kept(bot) if row.status == OutboxStatus.SUPERSEDED]) >= 1, "older redraws coalesced"
    assert bot.slack.refused, "the bot did try Slack"
    updates_before = len(bot.slack.calls_to("chat.update"))

    bot.slack.outage(False)
    reply = bot.slack.wait_for("chat.postMessage", lambda call: call.params.get("thread_ts") == card.ts)[-1]
    dm = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "U0ALICE")[-1]
    assert "✅ Request #1 applied" in reply.params["text"] and "✅ Request #1 applied" in dm.params["text"]
    updates = bot.slack.calls_to("chat.update")[updates_before:]
    assert len(updates) == 1 and updates[0].params["text"].endswith(": applied"), "only the newest redraw is sent"
    calls = bot.slack.calls
    assert calls.index(updates[0]) < calls.index(reply) < calls.index(dm), "in the order they were written"
    deadline = time.monotonic() + 5
    while any(row.status == OutboxStatus.PENDING for row in kept(bot)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the delivery is recorded right after Slack answers it
    assert all(row.status in (OutboxStatus.SENT, OutboxStatus.SUPERSEDED) for row in kept(bot))


def test_a_card_slack_could_not_take_is_posted_when_it_returns_and_then_works(bot: RunningBot) -> None:
    bot.slack.outage(True)
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: dashboards")
    bot.settle()
    assert [row.card_for_request for row in kept(bot)] == [1]
    with Session(bot.runtime.engine) as session:
        request = session.get(AccessRequest, 1)
        assert request is not None and request.card_ts is None and request.status == "pending"

    bot.slack.outage(False)
    card = bot.card(1)
    bot.slack.wait_for("chat.update", lambda call: call.params.get("ts") == card.ts)  # brought up to date
    view = bot.runtime.services.load_view(1)
    assert view is not None and view.card is not None and view.card.ts == card.ts
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    assert bot.platform().get_access(ANA) == VIEWER


def test_background_redraws_wait_behind_everything_else_and_go_out_after(bot: RunningBot) -> None:
    # Only the test delivers here: the scheduler's courier, which sends what waits after every sweep (each 0.1 s),
    # would otherwise race it for the redraw, and send it first about one run in three on a busy machine.
    bot.runtime.scheduler.shutdown()
    outbox = bot.runtime.services.notifier._outbox  # type: ignore[attr-defined]
    channel = bot.slack.channel_id("#access-approvals")
    first = outbox.call("chat.postMessage", {"channel": channel, "text": "a card"})
    assert first is not None
    outbox.later(
        [("chat.update", {"channel": channel, "ts": first["ts"], "text": "redrawn later"}, f"x:{first['ts']}")]
    )
    # A message now goes out at once, ahead of the redraw waiting in the background lane.
    assert outbox.call("chat.postMessage", {"channel": channel, "text": "an urgent card"}) is not None
    assert not any(call.params.get("text") == "redrawn later" for call in bot.slack.calls_to("chat.update"))
    assert outbox.deliver_pending() == 1
    assert bot.slack.wait_for("chat.update", lambda call: call.params.get("text") == "redrawn later")


def test_a_rate_limited_message_waits_as_slack_says_and_then_goes(bot: RunningBot) -> None:
    """Slack answers 429 with Retry-After when the bot sends too fast: the bot waits that long and sends again;
    nothing is dropped and the change does not wait for it."""
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: dashboards")
    card = bot.card(1)
    bot.slack.fail_next("chat.postMessage", "ratelimited", times=2)
    bot.click("bob", 1, ids.APPROVE)

    def in_thread(call: SlackCall) -> bool:
        return call.params.get("thread_ts") == card.ts

    reply = bot.slack.wait_for("chat.postMessage", lambda call: in_thread(call) and call.response["ok"])[-1]
    attempts = [call for call in bot.slack.calls_to("chat.postMessage") if in_thread(call)]
    assert [call.response.get("error") for call in attempts] == ["ratelimited", "ratelimited", None]
    assert all(later.at - earlier.at >= bot.slack.retry_after for earlier, later in itertools.pairwise(attempts)), (
        "each attempt waits the Retry-After Slack gave"
    )
    assert "✅ Request #1 applied" in reply.params["text"]
    assert bot.platform().get_access(ANA) == VIEWER
