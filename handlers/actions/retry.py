"""The Retry button on a card whose request did not fully apply."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.blocks.replies import decision_notice
from services.context import ServiceContext
from services.decisions import retry


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.RETRY)
    def on_retry(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        request_id = int(action["value"])
        actor = ctx.directory.person(body["user"]["id"])
        result = retry(ctx, request_id, actor=actor)
        if (notice := decision_notice(result, request_id)) is not None:
            respond(text=notice, response_type="ephemeral", replace_original=False)
