"""Submitting the Done form of a manual task: record it, then show on the task message who did it."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers import ids
from handlers.blocks.replies import notice
from handlers.blocks.tasks import task_done_message, task_notice
from handlers.messaging import tell_user
from services.context import ServiceContext
from services.task_actions import TaskOutcome, complete


def register(app: App, ctx: ServiceContext) -> None:
    @app.view(ids.TASK_FORM)
    def on_task_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        ack()
        where = json.loads(view["private_metadata"])
        evidence = (view["state"]["values"][ids.TASK_EVIDENCE][ids.TASK_EVIDENCE].get("value") or "").strip()
        user_id = body["user"]["id"]
        result = complete(ctx, int(where["task"]), person=ctx.directory.person(user_id), evidence=evidence or None)
        if result.outcome is TaskOutcome.DONE and result.task is not None and where.get("ts"):
            client.chat_update(channel=where["channel"], ts=where["ts"], **task_done_message(result.task))
        else:
            tell_user(client, user_id=user_id, channel=where.get("channel"), message=notice(task_notice(result)))
