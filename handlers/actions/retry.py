"""The Retry button on a card whose request did not fully apply."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import acknowledge_click, clicked, tell_clicker
from handlers.listening import listen
from services.context import ServiceContext
from services.decisions import retry


def register(app: App, ctx: ServiceContext) -> None:
    def on_retry(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        request_id, actor = clicked(ctx, body, action)
        tell_clicker(respond, client, body, retry(ctx, request_id, actor=actor), request_id)

    listen(app.action(ids.RETRY), ctx, ack=acknowledge_click, work=on_retry)
