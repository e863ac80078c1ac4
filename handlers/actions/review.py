"""Keep and Remove on an access review row."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.actions.clicks import clicked
from handlers.blocks.reviews import review_notice
from services import review_actions
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.REVIEW_KEEP)
    def on_keep(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        item_id, person = clicked(ctx, body, action)
        result = review_actions.keep(ctx, item_id, person=person)
        respond(text=review_notice(result), response_type="ephemeral", replace_original=False)

    @app.action(ids.REVIEW_REMOVE)
    def on_remove(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        item_id, person = clicked(ctx, body, action)
        result = review_actions.remove(ctx, item_id, person=person)
        respond(text=review_notice(result), response_type="ephemeral", replace_original=False)
