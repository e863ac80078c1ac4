"""A delivery Slack made before is answered without being processed again: a replay of a signed request inside the
signature's five minutes (same signature), or Slack's own retry of an event (`X-Slack-Retry-Num`, same event id).
Noted in the database, so that the instance a retry lands on knows what another one took."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse

from services.context import ServiceContext
from storage.db import session_scope
from storage.deliveries import first_delivery

logger = logging.getLogger("accessbot.slack")


def delivery_key(request: BoltRequest) -> str | None:
    """What makes a delivery the same as another: an event's id, else the request's signature."""
    body = request.body if isinstance(request.body, dict) else {}
    if isinstance(body.get("event_id"), str):
        return f"event:{body['event_id']}"
    signatures = request.headers.get("x-slack-signature") or []
    return f"sig:{signatures[0]}" if signatures else None


def register(app: App, ctx: ServiceContext) -> None:
    @app.middleware
    def once(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        key = delivery_key(req)
        if key is not None:
            with session_scope(ctx.engine) as session:
                first = first_delivery(session=session, key=key, at=ctx.clock.now())
            if not first:
                retries = req.headers.get("x-slack-retry-num") or []
                what = f"Slack's retry {retries[0]}" if retries else "a replay"
                logger.info("a delivery seen before (%s), answered without doing it again", what)
                return BoltResponse(status=200, body="")
        return next()
