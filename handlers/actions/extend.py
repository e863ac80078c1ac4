"""Extend… on a reminder: asks how much longer and why."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from domain.ledger import GrantState
from handlers import ids
from handlers.actions.clicks import clicked
from handlers.blocks.elevations import extend_form
from handlers.messaging import answer_person
from services.context import ServiceContext
from services.grants import load


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.EXTEND)
    def on_extend(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient) -> None:
        # Opens a form: all in the quick part, while the trigger id is fresh (see handlers/listening.py).
        grant_id, _ = clicked(ctx, body, action)
        ack()
        found = load(ctx, grant_id)
        if found is None or found[0].state is not GrantState.ACTIVE:
            answer_person(client, respond, body, "That temporary access has already ended.")
            return
        client.views_open(trigger_id=body["trigger_id"], view=extend_form(found[0]))
