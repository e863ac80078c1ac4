"""The Approve button on an approval card."""

from __future__ import annotations

from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers.actions.clicks import clicked, tell_clicker
from handlers.answers import Listener
from services.context import ServiceContext
from services.decisions import approve


def works(ctx: ServiceContext) -> list[Listener]:
    def on_approve(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        request_id, approver = clicked(ctx, body, action)
        tell_clicker(respond, client, body, approve(ctx, request_id, approver=approver), request_id)

    return [on_approve]
