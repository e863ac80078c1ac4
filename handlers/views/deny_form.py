"""Submitting the deny form."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from handlers.answers import Listener
from handlers.blocks.replies import decision_notice
from handlers.blocks.text import notice
from handlers.messaging import tell_user
from handlers.submissions import denial
from services.context import ServiceContext
from services.decisions import deny


def works(ctx: ServiceContext) -> list[Listener]:
    def on_deny_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        request_id, reason = denial(view)
        user_id = body["user"]["id"]
        result = deny(ctx, request_id, approver=ctx.directory.person(user_id), reason=reason)
        if (text := decision_notice(result, request_id)) is not None:
            card = result.view.card if result.view else None
            tell_user(client, user_id=user_id, channel=card.channel if card else None, message=notice(text))

    return [on_deny_submitted]
