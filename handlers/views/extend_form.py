"""Submitting the extend form: extended at once where policy allows, else sent for approval."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from handlers.answers import Listener
from handlers.blocks.elevations import elevation_notice
from handlers.blocks.text import notice
from handlers.messaging import tell_user
from handlers.submissions import extension
from services.context import ServiceContext
from services.grant_actions import ask_extension


def works(ctx: ServiceContext) -> list[Listener]:
    def on_extend_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        asked = extension(view)
        if asked.errors or asked.span is None:
            return  # the form showed what to fix
        user_id = body["user"]["id"]
        result = ask_extension(
            ctx,
            asked.grant_id,
            span=asked.span,
            reason=asked.reason,
            person=ctx.directory.person(user_id),
            text=f"extend by {asked.span_text}: {asked.reason}",
        )
        tell_user(client, user_id=user_id, channel=None, message=notice(elevation_notice(result)))

    return [on_extend_submitted]
