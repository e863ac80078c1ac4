"""A delivery Slack made before is answered without being processed again: a replay of a signed request inside the
signature's five minutes (same signature), or Slack's own retry of an event (`X-Slack-Retry-Num`, same event id).

The quick part of a listener answers every delivery (it changes nothing); the work behind it runs for the first
delivery alone. Noted in the database, by the work (in serve's worker), so that the instance a retry lands on knows
what another one did, and the answer to Slack never waits for a database write.
"""

from __future__ import annotations

import logging

from slack_bolt import BoltRequest

from services.context import ServiceContext
from services.deliveries import first_time

logger = logging.getLogger("accessbot.slack")


def delivery_key(request: BoltRequest) -> str | None:
    """What makes a delivery the same as another: an event's id, else the request's signature."""
    body = request.body if isinstance(request.body, dict) else {}
    if isinstance(body.get("event_id"), str):
        return f"event:{body['event_id']}"
    signatures = request.headers.get("x-slack-signature") or []
    return f"sig:{signatures[0]}" if signatures else None


def first_run(ctx: ServiceContext, request: BoltRequest, work: str) -> bool:
    """Whether this is the first time `work` runs for this delivery (True for what has nothing to tell it by)."""
    key = delivery_key(request)
    if key is None or first_time(ctx, f"{key} {work}"):
        return True
    retries = request.headers.get("x-slack-retry-num") or []
    what = f"Slack's retry {retries[0]}" if retries else "a replay"
    logger.info("a delivery seen before (%s): answered, and %s not done again", what, work)
    return False
