"""The Approve button on an approval card."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import acknowledge_click, clicked, tell_clicker
from handlers.listening import listen
from services.context import ServiceContext
from services.decisions import approve


def register(app: App, ctx: ServiceContext) -> None:
    def on_approve(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        request_id, approver = clicked(ctx, body, action)
        tell_clicker(respond, client, body, approve(ctx, request_id, approver=approver), request_id)

    listen(app.action(ids.APPROVE), ctx, ack=acknowledge_click, work=on_approve)
