"""A name someone chose in Slack never reaches Slack as markup (a channel ping, a link), over the real endpoint."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.console.local_slack import SlackCall
from handlers.blocks.text import code, escape
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


#: Text rich in what Slack reads as control: its three special characters, entity look-alikes, mentions and links.
SLACKISH = st.lists(
    st.sampled_from(["<", ">", "&", "!", "@", "#", "|", "^", "`", "amp;", "lt;", "gt;", "!channel", "http:", " "])
    | st.characters(),
    max_size=30,
).map("".join)


def unescaped(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda entity: {"amp": "&", "lt": "<", "gt": ">"}[entity[1]], text)


@given(SLACKISH)
def test_escaped_text_has_no_control_sequence_and_reads_as_typed(text: str) -> None:
    inert = escape(text)
    assert "<" not in inert and ">" not in inert, "no mention, link, date or channel ping can start"
    assert re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt);)*", inert, re.DOTALL), "every & starts one of Slack's entities"
    assert unescaped(inert) == text, "Slack shows exactly what was typed"


@given(SLACKISH)
def test_inline_code_stays_one_span_of_inert_text(text: str) -> None:
    span = code(text)
    assert span.startswith("`") and span.endswith("`") and span.count("`") == 2
    assert "<" not in span and ">" not in span
