"""Keep and Remove on an access review row."""

from __future__ import annotations

from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import clicked
from handlers.answers import Listener
from handlers.blocks.reviews import review_notice
from handlers.messaging import answer_person
from services import review_actions
from services.context import ServiceContext


def works(ctx: ServiceContext) -> list[Listener]:
    answers = {ids.REVIEW_KEEP: review_actions.keep, ids.REVIEW_REMOVE: review_actions.remove}

    def on_review_answer(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        item_id, person = clicked(ctx, body, action)
        result = answers[action["action_id"]](ctx, item_id, person=person)
        answer_person(client, respond, body, review_notice(result))

    return [on_review_answer]
