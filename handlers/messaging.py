"""Reaching one person when there is no response_url to answer (modal submissions)."""

from __future__ import annotations

import logging
from typing import Any

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
