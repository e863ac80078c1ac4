"""The answers on a temporary-access reminder: keep it until expiry (nothing changes, the reminder says who
answered), or revoke it now, "I'm done" (the revert runs at once)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import clicked
from handlers.answers import Listener
from handlers.blocks.elevations import answered, elevation_notice
from handlers.blocks.text import mention
from handlers.messaging import answer_person, can_respond
from services.context import ServiceContext
from services.grant_actions import GrantOutcome, end_now, keep


def works(ctx: ServiceContext) -> list[Listener]:
    answers = {ids.KEEP: (keep, GrantOutcome.KEPT), ids.REVOKE_NOW: (end_now, GrantOutcome.REVOKED)}

    def on_reminder_answer(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        grant_id, person = clicked(ctx, body, action)
        answer, done = answers[action["action_id"]]
        result = answer(ctx, grant_id, person=person)
        text = elevation_notice(result)
        if result.outcome is done and result.grant is not None and can_respond(respond):
            # The reminder shows who answered, as Slack names them (a display name is never pasted in as markup).
            respond(**answered(result.grant, f"{text} ({mention(person.slack_id)})"))
        else:
            answer_person(client, respond, body, text)

    return [on_reminder_answer]
