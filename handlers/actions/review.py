"""Keep and Remove on an access review row."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.actions.clicks import clicked
from handlers.blocks.reviews import review_notice
from services import review_actions
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    answers = {ids.REVIEW_KEEP: review_actions.keep, ids.REVIEW_REMOVE: review_actions.remove}

    @app.action(re.compile(f"^({'|'.join(answers)})$"))
    def on_answer(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        item_id, person = clicked(ctx, body, action)
        result = answers[action["action_id"]](ctx, item_id, person=person)
        respond(text=review_notice(result), response_type="ephemeral", replace_original=False)
