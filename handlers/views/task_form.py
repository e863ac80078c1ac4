"""Submitting the Done form of a manual task: record it, then show on the task message who did it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers import ids
from handlers.blocks.replies import notice
from handlers.blocks.tasks import task_done_message, task_notice
from handlers.listening import listen
from handlers.messaging import tell_user
from handlers.payloads import form_field, form_values, metadata, number, typed
from services.context import ServiceContext
from services.task_actions import TaskOutcome, complete


def read(view: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
    """The task, where its message is (and whether it is skipped), and the evidence or reason given."""
    where = metadata(view)
    task_id = number(where.get("task"), "form")
    evidence = (typed(form_field(form_values(view), ids.TASK_EVIDENCE, ids.TASK_EVIDENCE)) or "").strip()
    return task_id, where, evidence or None


def register(app: App, ctx: ServiceContext) -> None:
    def acknowledge(ack: Ack, view: dict[str, Any]) -> None:
        read(view)
        ack()

    def on_task_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        task_id, where, evidence = read(view)
        user_id = body["user"]["id"]
        person = ctx.directory.person(user_id)
        result = complete(ctx, task_id, person=person, evidence=evidence, skip=where.get("skip") is True)
        if result.outcome is TaskOutcome.DONE and result.task is not None and where.get("ts"):
            client.chat_update(channel=where["channel"], ts=where["ts"], **task_done_message(result.task))
        else:
            tell_user(client, user_id=user_id, channel=where.get("channel"), message=notice(task_notice(result)))

    listen(app.view(ids.TASK_FORM), ctx, ack=acknowledge, work=on_task_submitted)
