"""Re-sent on an invitation: someone sent it again in the platform's UI, so its time starts again."""

from __future__ import annotations

from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers.actions.clicks import clicked
from handlers.answers import Listener
from handlers.blocks.cards import approvers_text
from handlers.blocks.tasks import invitation_deadline, task_message, task_notice
from handlers.messaging import answer_person
from services.context import ServiceContext
from services.task_actions import TaskOutcome, resent


def works(ctx: ServiceContext) -> list[Listener]:
    def on_resent(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        task_id, person = clicked(ctx, body, action)
        result = resent(ctx, task_id, person=person)
        task, view = result.task, result.request
        if result.outcome is not TaskOutcome.DONE or task is None or view is None:
            answer_person(client, respond, body, task_notice(result))
            return
        container = body.get("container") or {}
        if container.get("channel_id") and container.get("message_ts"):
            # The message now shows the new expiry.
            message = task_message(view, task, approvers=approvers_text(view), now=ctx.clock.now())
            client.chat_update(channel=container["channel_id"], ts=container["message_ts"], **message)
        answer_person(client, respond, body, f"✉️ Recorded as re-sent. {invitation_deadline(task, ctx.clock.now())}")

    return [on_resent]
