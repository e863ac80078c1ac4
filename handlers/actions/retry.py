"""The Retry button on a card whose request did not fully apply."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.actions.clicks import clicked, tell_clicker
from services.context import ServiceContext
from services.decisions import retry


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.RETRY)
    def on_retry(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        request_id, actor = clicked(ctx, body, action)
        tell_clicker(respond, retry(ctx, request_id, actor=actor), request_id)
