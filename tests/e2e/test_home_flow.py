"""The App Home over signed HTTP: what someone sees when they open the bot, its buttons, and its redraws."""

from __future__ import annotations

from typing import Any

from bot.console.local_slack import SlackCall
from bot.console.payloads import find_in_blocks
from handlers import ids
from tests.e2e.conftest import USERS, RunningBot
from tests.waiting import wait_until

ANA = "ana@agency.example"


def text_of(view: dict[str, Any]) -> str:
    """Everything a Home says, as one string."""
    parts = []
    for block in view.get("blocks", []):
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [element.get("text", "") for element in block.get("elements", []) if element.get("type") == "mrkdwn"]
    return "\n".join(parts)


def open_home(bot: RunningBot, user: str) -> None:
    assert bot.post(bot.requests.home_opened(user=USERS[user])).status_code == 200


def home_showing(bot: RunningBot, user: str, *, says: str, gone: str | None = None) -> dict[str, Any]:
    """The newest Home published for `user` that says `says` (and no longer says `gone`)."""

    def showing(call: SlackCall) -> bool:
        shown = text_of(call.params["view"])
        return call.params["user_id"] == USERS[user].id and says in shown and (gone is None or gone not in shown)

    try:
        return dict(bot.slack.wait_for("views.publish", showing)[-1].params["view"])
    except TimeoutError:
        latest = bot.slack.homes.get(USERS[user].id)
        answers = [call.params.get("text") for call in bot.slack.calls_to("response_url")]
        raise AssertionError(f"{user}'s Home never said {says!r}; last: {text_of(latest or {})}; {answers}") from None


def press_in_home(bot: RunningBot, user: str, home: dict[str, Any], action_id: str, value: str) -> None:
    found = find_in_blocks(home["blocks"], action_id, value)
    assert found is not None, f"no {action_id} button for {value} in {user}'s Home: {text_of(home)}"
    signed = bot.requests.home_button(user=USERS[user], home=home, action=found[0], block_id=found[1])
    assert bot.post(signed).status_code == 200


def test_an_approver_sees_what_waits_for_them_and_approves_it_from_the_home(bot: RunningBot) -> None:
    open_home(bot, "bob")
    home_showing(bot, "bob", says="Nothing waits for your approval")
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: dashboards")
    bot.card(1)

    # Bob's Home is drawn again when the request arrives: it waits for him, with the card's buttons.
    home = home_showing(bot, "bob", says="*#1* <@U0ALICE> asks to add access")
    assert "Reason: dashboards" in text_of(home)
    assert find_in_blocks(home["blocks"], ids.DENY, "1") is not None
    press_in_home(bot, "bob", home, ids.APPROVE, "1")

    bot.wait_for_card(1, "applied")
    assert bot.platform().get_access(ANA).scopes == {"production": "Viewer"}
    home_showing(bot, "bob", says="Nothing waits for your approval")
    # Alice asked without opening her Home: nothing is published for her.
    assert not [call for call in bot.slack.calls_to("views.publish") if call.params["user_id"] == "U0ALICE"]


def test_a_requester_sees_their_request_then_the_grant_with_its_end_and_revokes_it_from_the_home(
    bot: RunningBot,
) -> None:
    open_home(bot, "ana")
    first = home_showing(bot, "ana", says="Nothing accessbot granted is live for you (ana@agency.example)")
    assert "You have not asked for anything yet." in text_of(first)
    assert "Waiting for your approval" in text_of(first), "every Home says whether anything waits"

    bot.command("ana", f"add {ANA} sandbox analyst for 2h reason: a launch")
    home_showing(
        bot, "ana", says="*#1* add access for ana@agency.example on sandbox: ⏳ Waiting for approval by <@U0BOB>"
    )
    bot.click("bob", 1, ids.APPROVE)
    home = home_showing(bot, "ana", says="ends <!date^")
    assert "left (request #1)" in text_of(home), text_of(home)
    grant = bot.runtime.services.load_view(1)
    assert grant is not None and grant.status.value == "applied"

    press_in_home(bot, "ana", home, ids.REVOKE_NOW, next(iter(_grant_ids(home))))
    # No response URL to answer through from a Home: the answer comes by direct message, after the revert.
    # (At once, or, when the approval's own work still holds the account on a busy machine, as soon as it lets go.)
    bot.slack.wait_for(
        "chat.postMessage", lambda call: call.params["channel"] == "U0ANA" and "Revoked" in call.params["text"]
    )
    wait_until(lambda: not bot.platform().get_access(ANA).member, "the revert", timeout=60)
    home_showing(bot, "ana", says="Nothing accessbot granted is live for you")


def test_a_stale_button_in_a_home_is_answered_by_direct_message(bot: RunningBot) -> None:
    open_home(bot, "bob")
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: dashboards")
    stale = home_showing(bot, "bob", says="*#1* <@U0ALICE>")
    bot.click("carol", 1, ids.DENY)
    denied = bot.slack.wait_for_form(ids.DENY_FORM)[-1]
    reason = {ids.DENY_REASON_BLOCK: {ids.DENY_REASON_INPUT: {"type": "plain_text_input", "value": "not now"}}}
    bot.post(bot.requests.view_submission(user=USERS["carol"], view=denied, values=reason))
    bot.wait_for_card(1, "denied")

    press_in_home(bot, "bob", stale, ids.APPROVE, "1")
    dm = bot.slack.wait_for("chat.postMessage", lambda call: call.params["channel"] == "U0BOB")[-1]
    assert "already" in dm.params["text"].lower() and "denied" in dm.params["text"].lower(), dm.params["text"]
    assert not bot.platform().get_access(ANA).member


def _grant_ids(home: dict[str, Any]) -> list[str]:
    return [
        element["value"]
        for block in home["blocks"]
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == ids.REVOKE_NOW
    ]
