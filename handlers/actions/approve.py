"""The Approve button on an approval card."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.blocks.replies import decision_notice
from services.context import ServiceContext
from services.decisions import approve


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.APPROVE)
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        request_id = int(action["value"])
        approver = ctx.directory.person(body["user"]["id"])
        result = approve(ctx, request_id, approver=approver)
        if (notice := decision_notice(result, request_id)) is not None:
            respond(text=notice, response_type="ephemeral", replace_original=False)
