"""The Retry button on a card whose request did not fully apply."""

from __future__ import annotations

from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers.actions.clicks import clicked, tell_clicker
from handlers.answers import Listener
from services.context import ServiceContext
from services.decisions import retry


def works(ctx: ServiceContext) -> list[Listener]:
    def on_retry(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        request_id, actor = clicked(ctx, body, action)
        tell_clicker(respond, client, body, retry(ctx, request_id, actor=actor), request_id)

    return [on_retry]
