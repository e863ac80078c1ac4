"""Keep until expiry on a reminder: nothing changes, and the reminder says who answered."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from handlers import ids
from handlers.actions.clicks import clicked
from handlers.blocks.elevations import answered, elevation_notice
from services.context import ServiceContext
from services.elevation_actions import ElevationOutcome, keep


def register(app: App, ctx: ServiceContext) -> None:
    @app.action(ids.KEEP)
    def on_keep(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        elevation_id, person = clicked(ctx, body, action)
        result = keep(ctx, elevation_id, person=person)
        text = elevation_notice(result)
        if result.outcome is ElevationOutcome.KEPT and result.elevation is not None:
            respond(**answered(result.elevation, f"{text} ({person.label()})"))
        else:
            respond(text=text, response_type="ephemeral", replace_original=False)
