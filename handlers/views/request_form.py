"""Submitting the request form: the same request as the typed command (handlers/submissions.py reads it)."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from domain.commands import CommandError
from handlers.answers import Listener
from handlers.blocks.forms import FormState
from handlers.blocks.text import escape, notice
from handlers.commands.access import answer
from handlers.messaging import tell_user
from handlers.payloads import form_values
from handlers.submissions import command_from_form
from services.context import RequestRefused, ServiceContext


def works(ctx: ServiceContext) -> list[Listener]:
    def on_request_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        state = FormState.load(view)
        try:
            command = command_from_form(form_values(view), state, ctx.catalogs)
        except CommandError:
            return  # the form showed what to fix
        user_id = body["user"]["id"]
        try:
            reply = answer(ctx, command, user_id=user_id, text=command.canonical())
        except RequestRefused as refusal:
            reply = notice(f"⚠️ {escape(str(refusal))}")  # it may quote a name someone chose
        tell_user(client, user_id=user_id, channel=state.channel, message=reply)

    return [on_request_submitted]
