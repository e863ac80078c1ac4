"""Done… on a manual task: asks how it was done, for the evidence. Skip… on a step before a removal: asks why."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import clicked
from handlers.blocks.tasks import task_form
from handlers.messaging import answer_person
from services.context import ServiceContext
from services.task_actions import load_task


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(re.compile(f"^({ids.TASK_DONE}|{ids.TASK_SKIP})$"))
    def on_task_done(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        # Opens a form: all in the quick part, while the trigger id is fresh (see handlers/listening.py).
        task_id, _ = clicked(ctx, body, action)
        ack()
        task = load_task(ctx, task_id)
        if task is None or not task.is_open:
            answer_person(client, respond, body, "That step is already done.")
            return
        container = body.get("container") or {}
        skip = action.get("action_id") == ids.TASK_SKIP
        form = task_form(task, channel=container.get("channel_id"), ts=container.get("message_ts"), skip=skip)
        client.views_open(trigger_id=body["trigger_id"], view=form)
