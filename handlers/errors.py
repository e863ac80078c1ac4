"""The one place unexpected errors end up: logged with a reference, and the user told in plain words."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from handlers.messaging import answer_person
from handlers.payloads import PayloadError

logger = logging.getLogger("accessbot.handlers")


def register(app: App) -> None:
    @app.error
    def on_error(
        error: Exception,
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        response: BoltResponse | None = None,
        respond: Respond | None = None,
    ) -> None:
        if context.authorize_result is None:
            # Failed before the request was verified as Slack's (a signature Bolt cannot even compare): refuse it,
            # and answer nobody, since its response URL and user come from whoever sent it.
            logger.warning("refused a request that failed before verification: %r", error)
            if response is not None:
                response.status, response.body = 401, ""
            return
        if response is not None:
            # Failed before answering Slack (the work's own errors are told by handlers/listening.py): answer 200
            # with nothing, which closes a form, instead of a 500 that Slack shows as its own error.
            response.status, response.body = 200, ""
        tell_about(error, body=body, client=client, respond=respond)


def tell_about(error: Exception, *, body: dict[str, Any], client: WebClient, respond: Respond | None) -> None:
    """Log what went wrong and tell the person: what was unreadable, or a reference to find it in the log."""
    if isinstance(error, PayloadError):
        logger.warning("unreadable %s payload: %s", body.get("type") or body.get("command"), error)
        text = str(error)
    else:
        reference = secrets.token_hex(4)
        logger.error(
            "unhandled error (ref %s) for %s", reference, body.get("type") or body.get("command"), exc_info=error
        )
        text = (
            f"⚠️ Something went wrong on our side (ref `{reference}`). Anything already saved is kept; "
            "try again, or give an admin this reference to look it up in the bot's log."
        )
    answer_person(client, respond, body, text)
