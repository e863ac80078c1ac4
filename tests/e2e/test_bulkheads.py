"""A platform that stalls holds up only its own work: another platform's card still comes at once, and /healthz
names the stalled platform as degraded."""

from __future__ import annotations

from platforms.http import RetryPolicy
from platforms.settings import SandboxSettings, ScimSettings
from tests.e2e.conftest import RunningBot, StartBot
from tests.scim_server import running
from tests.waiting import wait_until

# More requests for the stalled platform than the bot has threads for Slack's work (8, tests/e2e/conftest.py).
STALLED_REQUESTS = 10


def test_a_stalled_platform_does_not_delay_another_platforms_card(start_bot: StartBot) -> None:
    with running() as server:
        # Every read of a user trickles in a byte at a time, for as long as the server runs: each read answers
        # well within its timeout, so only the whole call's deadline (here far away) would end it.
        server.fail(
            "GET", "Users", 200, body=b'{"Resources": []}', content_type="application/scim+json", trickle=0.1,
            times=1000, endless=True,
        )  # fmt: skip
        stalled = ScimSettings(
            base_url=server.url,
            token=server.token,
            approvers=("U0BOB",),
            concurrency=2,
            retry=RetryPolicy(timeout_seconds=1.0, max_total_wait_seconds=600.0, attempts=1),
        )
        bot: RunningBot = start_bot(platforms={"app": stalled, "sandbox": SandboxSettings(approvers=("U0BOB",))})
        for n in range(STALLED_REQUESTS):
            bot.command("alice", f"add person{n}@agency.example app Member reason: stalled")
        wait_until(lambda: server.count("GET", "Users") >= 2, "the stalled platform to be asked")

        bot.command("alice", "add ana@agency.example sandbox viewer on production reason: not stalled")
        card = bot.slack.wait_for(
            "chat.postMessage", lambda call: "ana@agency.example" in call.params["text"], timeout=30
        )[-1]
        assert "sandbox" in str(card.params["blocks"])
        assert server.count("GET", "Users") == 2, "only as many calls as its bulkhead has slots reached it"
        health = bot.http.get(bot.events_url.replace("/slack/events", "/healthz")).json()
        assert health["degraded_platforms"] == ["app"], health
