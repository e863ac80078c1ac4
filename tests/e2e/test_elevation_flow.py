"""Temporary elevation end to end: signed requests in, the scheduler's sweep, messages out to the Slack Web API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.access import AccessState
from handlers import ids
from tests.e2e.conftest import USERS, RunningBot, StartBot, metric_values
from tests.fakes import FakeClock, FlakyPlatform
from tests.waiting import wait_until

ANA = "ana@agency.example"
CONSUMER = AccessState(member=True, account_role="Consumer")


@pytest.fixture
def clock() -> FakeClock:
    # Real now: APScheduler's timers run on real time and must not all look overdue.
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def elevated(start_bot: StartBot, clock: FakeClock) -> RunningBot:
    bot = start_bot(clock=clock)
    bot.platform().apply(ANA, CONSUMER)
    return bot


def grant(bot: RunningBot, text: str) -> None:
    bot.command("alice", text)
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    bot.settle()
    if "needs 2 approvals" in str(bot.card(1).blocks):  # account Admin: the default rule wants a second person
        bot.click("carol", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    bot.settle()  # the approval's own worker has let the account go: the clock may jump past its lease now


def test_an_elevation_for_2h_is_reverted_when_the_clock_passes_its_end(elevated: RunningBot, clock: FakeClock) -> None:
    bot = elevated
    grant(bot, f"update {ANA} sandbox admin for 2h reason: tracking plan deploy")
    applied = bot.wait_for_card(1, "applied")
    assert "⏱ Temporary (account role: Consumer → Admin) until <!date^" in str(applied.params["blocks"])
    assert bot.platform().get_access(ANA).account_role == "Admin"

    clock.advance(timedelta(hours=1, minutes=59))
    bot.slack.wait_for("chat.postMessage", lambda call: "ends <!date^" in str(call.params.get("blocks")))
    assert bot.platform().get_access(ANA).account_role == "Admin", "a reminder, not a revert, an hour before"

    clock.advance(timedelta(minutes=1))
    ended = bot.slack.wait_for(
        "chat.postMessage",
        lambda call: "temporary access on sandbox" in call.params["text"] and "ended" in call.params["text"],
    )
    assert any("account role: Admin → Consumer" in call.params["text"] for call in ended)
    card = bot.slack.wait_for("chat.update", lambda call: "↩️ Ended" in str(call.params.get("blocks")))[-1]
    assert "account role: Admin → Consumer" in str(card.params["blocks"])
    assert bot.platform().get_access(ANA) == CONSUMER
    assert bot.slack.wait_for(
        "chat.postMessage", lambda call: call.params["channel"] == "U0ALICE" and "ended" in call.params["text"]
    )
    assert bot.audit(1)[-4:] == ["elevation_started", "reminded", "reconcile_planned", "reverted"], bot.audit(1)


def test_revoke_now_from_the_reminder_ends_it_at_once(elevated: RunningBot, clock: FakeClock) -> None:
    bot = elevated
    grant(bot, f"update {ANA} sandbox architect for 2d reason: QA")
    clock.advance(timedelta(days=1))
    bot.slack.wait_for(
        "chat.postMessage",
        lambda call: (
            call.params["channel"] == "U0ALICE"
            and "blocks" in call.params
            and ids.REVOKE_NOW in str(call.params["blocks"])
        ),
    )
    reminder = bot.message_with(ids.REVOKE_NOW, channel="D0ALICE")
    assert bot.press("alice", reminder, ids.REVOKE_NOW).status_code == 200
    answer = bot.slack.wait_for("response_url", lambda call: "Revoked" in str(call.params.get("text")))[-1]
    assert answer.params["replace_original"] is True and ids.REVOKE_NOW not in str(answer.params["blocks"])
    assert bot.platform().get_access(ANA) == CONSUMER
    assert "elevation_revoked_early" in bot.audit(1)


def test_keep_until_expiry_changes_nothing_but_answers_the_reminder(elevated: RunningBot, clock: FakeClock) -> None:
    bot = elevated
    grant(bot, f"update {ANA} sandbox architect for 2d reason: QA")
    clock.advance(timedelta(days=1))
    bot.slack.wait_for("chat.postMessage", lambda call: ids.KEEP in str(call.params.get("blocks")), count=2)
    bot.press("bob", bot.message_with(ids.KEEP), ids.KEEP)
    answer = bot.slack.wait_for("response_url", lambda call: "Kept until" in str(call.params.get("text")))[-1]
    assert "(<@U0BOB>)" in answer.params["text"], "who answered, as Slack names them"
    assert bot.platform().get_access(ANA).account_role == "Architect"


def test_extend_from_the_reminder_goes_through_approval(elevated: RunningBot, clock: FakeClock) -> None:
    bot = elevated
    grant(bot, f"update {ANA} sandbox architect for 2d reason: QA")
    clock.advance(timedelta(days=1))
    bot.slack.wait_for("chat.postMessage", lambda call: ids.EXTEND in str(call.params.get("blocks")))
    bot.press("alice", bot.message_with(ids.EXTEND, channel="D0ALICE"), ids.EXTEND)
    view = bot.slack.wait_for_form(ids.EXTEND_FORM)[0]
    values = {
        ids.EXTEND_SPAN: {ids.EXTEND_SPAN: {"selected_option": {"value": "1d"}}},
        ids.EXTEND_REASON: {ids.EXTEND_REASON: {"value": "QA found more"}},
    }
    bot.post(bot.requests.view_submission(user=USERS["alice"], view=view, values=values))
    card = bot.card(2)
    assert "extend temporary access" in str(card.blocks) and "+1d" in str(card.blocks)
    bot.click("bob", 2, ids.APPROVE)
    bot.wait_for_card(2, "applied")
    bot.slack.wait_for("chat.postMessage", lambda call: "now lasts until" in call.params["text"])

    clock.advance(timedelta(days=1))  # the original end: still elevated
    bot.settle()
    bot.slack.wait_for("chat.postMessage", lambda call: "ends <!date^" in str(call.params.get("blocks")), count=3)
    assert bot.platform().get_access(ANA).account_role == "Architect"
    clock.advance(timedelta(days=1))
    bot.slack.wait_for("chat.update", lambda call: "↩️ Ended" in str(call.params.get("blocks")))
    assert bot.platform().get_access(ANA) == CONSUMER


def test_list_and_requests_show_active_elevations_with_time_left(elevated: RunningBot, clock: FakeClock) -> None:
    bot = elevated
    grant(bot, f"update {ANA} sandbox architect for 2d reason: QA")
    clock.advance(timedelta(hours=12))
    bot.platform().apply("alice@agency.example", AccessState(member=True, account_role="Analyst"))
    bot.command("alice", "list")
    listed = bot.ephemeral("Active temporary access")
    assert ANA in listed and "1d 12h left" in listed
    # With no one named, the asker's own access comes first.
    assert "*Your access* (alice@agency.example)" in listed and "• *sandbox*: Analyst" in listed


def test_many_grants_ending_together_are_told_in_digests_and_never_hold_a_new_card_up(
    elevated: RunningBot, clock: FakeClock
) -> None:
    bot = elevated
    people = [f"person{n}@agency.example" for n in range(6)]
    for number, email in enumerate(people, start=1):
        bot.platform().apply(email, CONSUMER)
        bot.command("alice", f"update {email} sandbox analyst for 2h reason: quarter close")
        bot.card(number)
        bot.click("bob", number, ids.APPROVE)
        bot.wait_for_card(number, "applied")
    bot.settle()  # every approval's work done, its claims let go, before the clock moves on
    posted = len(bot.slack.calls_to("chat.postMessage"))

    # They all end in the same sweep: the approvals channel and alice hear once each, naming every grant.
    clock.advance(timedelta(hours=2))
    approvals = bot.slack.channel_id("#access-approvals")
    digest = bot.slack.wait_for(
        "chat.postMessage",
        lambda call: (
            call.params["channel"] == approvals and "Temporary access ended for 6 grant(s)" in call.params["text"]
        ),
    )
    assert len(digest) == 1
    for number, email in enumerate(people, start=1):
        assert f"#{number} {email} on sandbox: account role: Analyst → Consumer" in digest[0].params["text"]
        assert bot.platform().get_access(email) == CONSUMER
    mine = bot.slack.wait_for(
        "chat.postMessage", lambda call: call.params["channel"] == "U0ALICE" and "ended for 6" in call.params["text"]
    )
    assert len(mine) == 1
    replies = [call for call in bot.slack.calls_to("chat.postMessage")[posted:] if call.params.get("thread_ts")]
    assert replies == [], "no reply per card in the thread when many end together"

    # Each card is still redrawn, in the background, and a new request's card never waits behind those redraws.
    bot.command("alice", f"add {ANA} sandbox viewer on staging reason: new work")
    assert bot.card(len(people) + 1)
    for number in range(1, len(people) + 1):
        bot.slack.wait_for(
            "chat.update",
            lambda call, n=number: (
                f"Access request #{n}:" in str(call.params.get("blocks"))
                and "↩️ Ended" in str(call.params.get("blocks"))
            ),
        )


def test_metrics_show_the_approval_the_platform_calls_and_the_revert_lag(
    elevated: RunningBot, clock: FakeClock
) -> None:
    bot = elevated
    url = bot.events_url.replace("/slack/events", "/metrics")
    before = metric_values(bot.http.get(url).text)
    grant(bot, f"update {ANA} sandbox architect for 2h reason: QA")
    clock.advance(timedelta(hours=2))
    bot.slack.wait_for("chat.update", lambda call: "↩️ Ended" in str(call.params.get("blocks")))
    page = bot.http.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    after = metric_values(page.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("accessbot_approval_latency_seconds_count") == 1
    assert grew("accessbot_platform_call_seconds_count", platform="sandbox", operation="apply") >= 1
    assert grew("accessbot_revert_lag_seconds_count") == 1
    assert after[("accessbot_requests", (("status", "applied"), ("verb", "update")))] == 1
    assert after[("accessbot_reverts_overdue", ())] == 0
    assert after[("accessbot_outbox_pending", (("lane", "now"),))] == 0
    assert after[("accessbot_database_up", ())] == 1


def test_metrics_count_a_revert_that_is_overdue_while_the_platform_is_down(
    start_bot: StartBot, clock: FakeClock
) -> None:
    bot = start_bot(clock=clock, wrap=FlakyPlatform)
    sandbox = bot.runtime.services.platforms["sandbox"]
    assert isinstance(sandbox, FlakyPlatform)
    sandbox.apply(ANA, CONSUMER)
    grant(bot, f"update {ANA} sandbox architect for 2h reason: QA")
    sandbox.failures = 1_000
    clock.advance(timedelta(hours=2, minutes=5))
    url = bot.events_url.replace("/slack/events", "/metrics")

    def overdue_and_failing() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        values = metric_values(bot.http.get(url).text)
        failing = sum(value for (name, _), value in values.items() if name == "accessbot_platform_call_errors_total")
        return values if values[("accessbot_reverts_overdue", ())] == 1 and failing >= 1 else None

    wait_until(overdue_and_failing, "the failing revert to show")
    values = overdue_and_failing()
    assert values is not None and values[("accessbot_reverts_overdue_seconds", ())] >= 300
