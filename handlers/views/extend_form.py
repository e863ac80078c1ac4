"""Submitting the extend form: extended at once where policy allows, else sent for approval."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from domain.durations import DurationError, parse_duration
from handlers import ids
from handlers.blocks.elevations import elevation_notice
from handlers.blocks.replies import notice
from handlers.messaging import tell_user
from services.context import ServiceContext
from services.elevation_actions import ask_extension


def register(app: App, ctx: ServiceContext) -> None:
    @app.view(ids.EXTEND_FORM)
    def on_extend_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        values = view["state"]["values"]
        chosen = (values[ids.EXTEND_SPAN][ids.EXTEND_SPAN].get("selected_option") or {}).get("value", "")
        reason = " ".join((values[ids.EXTEND_REASON][ids.EXTEND_REASON].get("value") or "").split())
        try:
            span = parse_duration(chosen)
        except DurationError as error:
            ack(response_action="errors", errors={ids.EXTEND_SPAN: str(error)})
            return
        if not reason:
            ack(response_action="errors", errors={ids.EXTEND_REASON: "Say why more time is needed."})
            return
        ack()
        user_id = body["user"]["id"]
        result = ask_extension(
            ctx,
            int(view["private_metadata"]),
            span=span,
            reason=reason,
            person=ctx.directory.person(user_id),
            text=f"extend by {chosen}: {reason}",
        )
        tell_user(client, user_id=user_id, channel=None, message=notice(elevation_notice(result)))
