"""Submitting the extend form: extended at once where policy allows, else sent for approval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from slack_bolt import Ack, App
from slack_sdk import WebClient

from domain.durations import DurationError, parse_duration
from handlers import ids
from handlers.blocks.elevations import elevation_notice
from handlers.blocks.replies import notice
from handlers.listening import listen
from handlers.messaging import tell_user
from handlers.payloads import chosen, form_field, form_values, number, typed
from services.context import ServiceContext
from services.grant_actions import ask_extension


class Extension(BaseModel):
    model_config = ConfigDict(frozen=True)

    grant_id: int
    span_text: str
    span: timedelta | None = None
    reason: str
    # Field -> problem, shown beside the field; empty when the form is fine.
    errors: dict[str, str] = {}


def read(view: dict[str, Any]) -> Extension:
    values = form_values(view)
    grant_id = number(view.get("private_metadata"), "form")
    span_text = chosen(form_field(values, ids.EXTEND_SPAN, ids.EXTEND_SPAN)) or ""
    reason = " ".join((typed(form_field(values, ids.EXTEND_REASON, ids.EXTEND_REASON)) or "").split())
    try:
        span = parse_duration(span_text)
    except DurationError as error:
        return Extension(grant_id=grant_id, span_text=span_text, reason=reason, errors={ids.EXTEND_SPAN: str(error)})
    if not reason:
        errors = {ids.EXTEND_REASON: "Say why more time is needed."}
        return Extension(grant_id=grant_id, span_text=span_text, span=span, reason=reason, errors=errors)
    return Extension(grant_id=grant_id, span_text=span_text, span=span, reason=reason)


def register(app: App, ctx: ServiceContext) -> None:
    def acknowledge(ack: Ack, view: dict[str, Any]) -> None:
        extension = read(view)
        if extension.errors:
            ack(response_action="errors", errors=extension.errors)
        else:
            ack()

    def on_extend_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        extension = read(view)
        if extension.errors or extension.span is None:
            return  # the form showed what to fix
        user_id = body["user"]["id"]
        result = ask_extension(
            ctx,
            extension.grant_id,
            span=extension.span,
            reason=extension.reason,
            person=ctx.directory.person(user_id),
            text=f"extend by {extension.span_text}: {extension.reason}",
        )
        tell_user(client, user_id=user_id, channel=None, message=notice(elevation_notice(result)))

    listen(app.view(ids.EXTEND_FORM), ctx, ack=acknowledge, work=on_extend_submitted)
