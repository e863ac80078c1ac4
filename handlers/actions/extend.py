"""Extend… on a reminder: the view its click opened becomes a form that asks how much longer and why."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from domain.ledger import GrantState
from handlers.actions.clicks import clicked, fill_in
from handlers.answers import Listener
from handlers.blocks.elevations import extend_form
from handlers.blocks.forms import EXTEND_TITLE, form_notice
from services.context import ServiceContext
from services.grants import load


def works(ctx: ServiceContext) -> list[Listener]:
    def open_extend_form(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        def draw() -> dict[str, Any]:
            grant_id, _ = clicked(ctx, body, action)
            found = load(ctx, grant_id)
            if found is None or found[0].state is not GrantState.ACTIVE:
                return form_notice(EXTEND_TITLE, "That temporary access has already ended.")
            return extend_form(found[0])

        fill_in(client, body, EXTEND_TITLE, draw)

    return [open_extend_form]
