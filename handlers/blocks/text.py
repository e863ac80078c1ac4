"""Slack mrkdwn helpers shared by the Block Kit builders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: A Slack message: what chat.postMessage, respond() or an ack() takes.
Message = dict[str, Any]


def escape(text: str) -> str:
    """Make user-typed text inert: no @channel pings, no fake links (Slack's three control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(slack_id: str) -> str:
    """A user (U/W...) or user group (S...) mention."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def when(moment: datetime) -> str:
    """A time every reader sees in their own time zone, with a UTC fallback for clients that cannot."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def code(text: str) -> str:
    """Inline code. Slack still reads <...> inside backticks as a link, so it is escaped here too."""
    inner = escape(text).replace("`", "'")
    return f"`{inner}`"


def plain(text: str, limit: int = 150) -> dict[str, object]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def mrkdwn(text: str, limit: int = 3000) -> dict[str, str]:
    """Slack rejects section text over 3000 characters (2000 in a field); cut rather than lose the message."""
    return {"type": "mrkdwn", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def field(text: str) -> dict[str, str]:
    return mrkdwn(text, limit=2000)


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str) -> dict[str, object]:
    return {"type": "context", "elements": [mrkdwn(text)]}


def notice(text: str) -> Message:
    return {"response_type": "ephemeral", "text": text, "replace_original": False}
