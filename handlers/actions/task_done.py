"""Done… on a manual task asks how it was done, for the evidence; Skip… on a step before a removal asks why. The
view the click opened becomes that form."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from handlers import ids
from handlers.actions.clicks import clicked, fill_in
from handlers.answers import Listener
from handlers.blocks.forms import TASK_TITLE, form_notice
from handlers.blocks.tasks import task_form
from services.context import ServiceContext
from services.task_actions import load_task


def works(ctx: ServiceContext) -> list[Listener]:
    def open_task_form(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        def draw() -> dict[str, Any]:
            task_id, _ = clicked(ctx, body, action)
            task = load_task(ctx, task_id)
            if task is None or not task.is_open:
                return form_notice(TASK_TITLE, "That step is already done.")
            container = body.get("container") or {}
            skip = action.get("action_id") == ids.TASK_SKIP
            return task_form(task, channel=container.get("channel_id"), ts=container.get("message_ts"), skip=skip)

        fill_in(client, body, TASK_TITLE, draw)

    return [open_task_form]
