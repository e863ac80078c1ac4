"""Reaching one person when there is no response_url to answer (modal submissions, App Home buttons)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger("accessbot.slack")


def tell_user(client: WebClient, *, user_id: str, channel: str | None, message: dict[str, Any]) -> None:
    """An ephemeral note in `channel` when the bot can post there, else a DM."""
    payload = {key: value for key, value in message.items() if key in ("text", "blocks")}
    if channel:
        try:
            client.chat_postEphemeral(channel=channel, user=user_id, **payload)
            return
        except SlackApiError as error:
            logger.info("ephemeral to %s failed (%s); sending a DM instead", channel, error.response.get("error"))
    client.chat_postMessage(channel=user_id, **payload)


def answer_person(client: WebClient, respond: Respond | None, body: dict[str, Any], text: str) -> None:
    """An ephemeral answer where there is a response URL, else a DM (form submissions and App Home buttons have
    none). Never raises: failing to tell someone must not undo what was done."""
    try:
        if can_respond(respond):
            assert respond is not None
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        user = body.get("user") if isinstance(body.get("user"), dict) else None
        user_id = user.get("id") if user else None
        if isinstance(user_id, str) and user_id:
            client.chat_postMessage(channel=user_id, text=text)
    except Exception:
        logger.exception("could not tell the user: %s", text)


def can_respond(respond: Respond | None) -> bool:
    """Whether there is a response URL to answer through (Bolt passes a `respond` that refuses when there is not)."""
    return respond is not None and bool(respond.response_url)
