"""Revoke now ("I'm done") on a reminder: the temporary access ends at once."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.actions.clicks import clicked
from handlers.blocks.elevations import answered, elevation_notice
from services.context import ServiceContext
from services.elevation_actions import ElevationOutcome, end_now


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.REVOKE_NOW)
    def on_revoke_now(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        elevation_id, person = clicked(ctx, body, action)
        result = end_now(ctx, elevation_id, person=person)
        text = elevation_notice(result)
        if result.outcome is ElevationOutcome.REVOKED and result.elevation is not None:
            respond(**answered(result.elevation, f"{text} ({person.label()})"))
        else:
            respond(text=text, response_type="ephemeral", replace_original=False)
