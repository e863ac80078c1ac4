"""Redraws the request form when its action or platform changes: role and scope choices depend on both."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers import ids
from handlers.blocks.forms import FormState, request_form
from handlers.payloads import PayloadError, chosen
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(re.compile(f"^({'|'.join(ids.FORM_REDRAW_ACTIONS)})$"))
    def on_form_change(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        # Read before acknowledging, so a form we cannot read is refused in the answer itself (see clicked()).
        view = body.get("view") or {}
        state = FormState.load(view)
        choice = chosen(action)
        if choice is None:
            raise PayloadError("form")
        ack()
        if action["action_id"] == ids.FORM_VERB:
            state = state.model_copy(update={"verb": choice})
        else:
            state = state.model_copy(update={"platform": choice})
        if state.platform not in ctx.catalogs and state.verb != "remove":
            state = state.model_copy(update={"platform": next(iter(ctx.catalogs))})
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=request_form(ctx.catalogs, state))
