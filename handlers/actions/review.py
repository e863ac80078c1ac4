"""Keep and Remove on an access review row."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import acknowledge_click, clicked
from handlers.blocks.reviews import review_notice
from handlers.listening import listen
from handlers.messaging import answer_person
from services import review_actions
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    answers = {ids.REVIEW_KEEP: review_actions.keep, ids.REVIEW_REMOVE: review_actions.remove}

    def on_answer(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        item_id, person = clicked(ctx, body, action)
        result = answers[action["action_id"]](ctx, item_id, person=person)
        answer_person(client, respond, body, review_notice(result))

    listen(app.action(re.compile(f"^({'|'.join(answers)})$")), ctx, ack=acknowledge_click, work=on_answer)
