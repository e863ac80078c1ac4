"""Submitting the Done form of a manual task: record it, then show on the task message who did it."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from handlers.answers import Listener
from handlers.blocks.tasks import task_done_message, task_notice
from handlers.blocks.text import notice
from handlers.messaging import tell_user
from handlers.submissions import task_report
from services.context import ServiceContext
from services.task_actions import TaskOutcome, complete


def works(ctx: ServiceContext) -> list[Listener]:
    def on_task_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        task_id, where, evidence = task_report(view)
        user_id = body["user"]["id"]
        person = ctx.directory.person(user_id)
        result = complete(ctx, task_id, person=person, evidence=evidence, skip=where.get("skip") is True)
        if result.outcome is TaskOutcome.DONE and result.task is not None and where.get("ts"):
            client.chat_update(channel=where["channel"], ts=where["ts"], **task_done_message(result.task))
        else:
            tell_user(client, user_id=user_id, channel=where.get("channel"), message=notice(task_notice(result)))

    return [on_task_submitted]
