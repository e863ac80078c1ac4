"""The Approve button on an approval card."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.actions.clicks import clicked, tell_clicker
from services.context import ServiceContext
from services.decisions import approve


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.APPROVE)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        request_id, approver = clicked(ctx, body, action)
        tell_clicker(respond, approve(ctx, request_id, approver=approver), request_id)
