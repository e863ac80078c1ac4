"""Submitting the deny form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers import ids
from handlers.blocks.replies import decision_notice, notice
from handlers.listening import listen
from handlers.messaging import tell_user
from handlers.payloads import form_field, form_values, number, typed
from services.context import ServiceContext
from services.decisions import deny


def read(view: dict[str, Any]) -> tuple[int, str | None]:
    """The request the form is for, and the reason given (optional)."""
    request_id = number(view.get("private_metadata"), "form")
    reason = typed(form_field(form_values(view), ids.DENY_REASON_BLOCK, ids.DENY_REASON_INPUT))
    return request_id, (reason or "").strip() or None


def register(app: App, ctx: ServiceContext) -> None:
    def acknowledge(ack: Ack, view: dict[str, Any]) -> None:
        read(view)
        ack()

    def on_deny_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        request_id, reason = read(view)
        user_id = body["user"]["id"]
        result = deny(ctx, request_id, approver=ctx.directory.person(user_id), reason=reason)
        if (text := decision_notice(result, request_id)) is not None:
            card = result.view.card if result.view else None
            tell_user(client, user_id=user_id, channel=card.channel if card else None, message=notice(text))

    listen(app.view(ids.DENY_FORM), ctx, ack=acknowledge, work=on_deny_submitted)
