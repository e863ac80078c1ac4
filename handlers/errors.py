"""The one place unexpected errors end up: logged with a reference, and the user told in plain words."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond

logger = logging.getLogger("accessbot.handlers")


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Respond | None = None) -> None:
        reference = secrets.token_hex(4)
        logger.error(
            "unhandled error (ref %s) for %s", reference, body.get("type") or body.get("command"), exc_info=error
        )
        if respond is None:
            return
        try:
            respond(
                text=(
                    f"⚠️ Something went wrong on our side (ref `{reference}`). Anything already saved is kept; "
                    "try again, or give an admin this reference to look it up in the bot's log."
                ),
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception:
            logger.exception("could not tell the user about error ref %s", reference)
