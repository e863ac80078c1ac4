"""The Deny button: checks the clicker may decide, then turns the view its click opened into the deny form, which
asks for an optional reason."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from handlers.actions.clicks import clicked, fill_in
from handlers.answers import Listener
from handlers.blocks.forms import DENY_TITLE, deny_form, form_notice
from handlers.blocks.replies import decision_notice
from services.context import ServiceContext
from services.decisions import Outcome, check_may_decide


def works(ctx: ServiceContext) -> list[Listener]:
    def open_deny_form(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        def draw() -> dict[str, Any]:
            request_id, person = clicked(ctx, body, action)
            checked = check_may_decide(ctx, request_id, person)
            if checked.outcome is not Outcome.DONE or checked.view is None:
                text = decision_notice(checked, request_id) or f"Request #{request_id} cannot be denied now."
                return form_notice(DENY_TITLE, text)
            withdraw = checked.view.requester_id == person.slack_id
            return deny_form(request_id, checked.view.target_email, withdraw=withdraw)

        fill_in(client, body, DENY_TITLE, draw)

    return [open_deny_form]
