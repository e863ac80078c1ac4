"""Submitting the deny form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers import ids
from handlers.blocks.replies import decision_notice, notice
from handlers.messaging import tell_user
from services.context import ServiceContext
from services.decisions import deny


def register(app: App, ctx: ServiceContext) -> None:
    @app.view(ids.DENY_FORM)
    def on_deny_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        ack()
        request_id = int(view["private_metadata"])
        reason = view["state"]["values"][ids.DENY_REASON_BLOCK][ids.DENY_REASON_INPUT].get("value")
        user_id = body["user"]["id"]
        result = deny(ctx, request_id, approver=ctx.directory.person(user_id), reason=(reason or "").strip() or None)
        if (text := decision_notice(result, request_id)) is not None:
            card = result.view.card if result.view else None
            tell_user(client, user_id=user_id, channel=card.channel if card else None, message=notice(text))
