"""A name someone chose in Slack never reaches Slack as markup (a channel ping, a link), over the real endpoint."""

from __future__ import annotations

from bot.console.local_slack import SlackCall
from tests.e2e.conftest import RunningBot, StartBot

MARKUP = ("<!channel>", "<!here>", "<https://evil.example")


def live_markup(calls: list[SlackCall]) -> list[str]:
    return [
        str(call.params)
        for call in calls
        if any(markup in f"{call.params.get('text', '')} {call.params.get('blocks', '')}" for markup in MARKUP)
    ]


def test_a_break_glass_users_name_is_text_in_the_team_message_and_the_review_task(start_bot: StartBot) -> None:
    policy = {"break_glass": {"members": ["U0EVE"], "max_duration": "2h", "notify_channel": "#security"}}
    bot = start_bot(policy=policy)
    bot.command("eve", "break-glass eve@client.example sandbox architect for 1h reason: INC-9 pipeline down")
    bot.slack.wait_for("chat.postMessage", lambda call: "Review the break-glass use" in str(call.params.get("blocks")))
    bot.settle()
    assert "&lt;!channel&gt;" in str(bot.slack.calls_to("chat.postMessage")), "the name is shown, as text"
    assert live_markup(bot.slack.calls_to("chat.postMessage")) == []


def test_a_refusal_quoting_a_name_quotes_it_as_text(bot: RunningBot) -> None:
    bot.command("alice", "add <@U0NOMAIL|nomail> sandbox viewer on production reason: x")
    said = bot.ephemeral("Slack shows no email for")
    assert "&lt;!here&gt; nomail" in said
    assert live_markup(bot.slack.calls_to("response_url")) == []
