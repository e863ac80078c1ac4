"""The Deny button: checks the clicker may decide, then asks for an optional reason."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import clicked, tell_clicker
from handlers.blocks.forms import deny_form
from services.context import ServiceContext
from services.decisions import Outcome, check_may_decide


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.DENY)
    def on_deny(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        # Opens a form: all in the quick part, while the trigger id is fresh (see handlers/listening.py).
        request_id, person = clicked(ctx, body, action)
        ack()
        checked = check_may_decide(ctx, request_id, person)
        if checked.outcome is not Outcome.DONE or checked.view is None:
            tell_clicker(respond, client, body, checked, request_id)
            return
        withdraw = checked.view.requester_id == person.slack_id
        form = deny_form(request_id, checked.view.target_email, withdraw=withdraw)
        client.views_open(trigger_id=body["trigger_id"], view=form)
