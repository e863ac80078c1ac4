"""Every message the bot posts or redraws goes through here: sent at once when Slack answers, kept in the database
when Slack is unreachable, and delivered in order when it is back (the scheduler drains it after every sweep).

What happened on the platforms never waits for Slack: a change is applied and recorded whatever Slack does, and the
messages about it follow when they can.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.ports import MessageRef
from storage.db import session_scope
from storage.outbox import OutboxStatus, claim_next, enqueue, finish, has_pending, retry_later

logger = logging.getLogger("accessbot.slack")

# Slack error codes that say "not now" rather than "never": the call is kept and tried again.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "timeout"}
)
CardPosted = Callable[[int, MessageRef], None]


def is_transient(error: Exception) -> bool:
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 200)
        return status >= 500 or status == 429 or error.response.get("error") in TRANSIENT_ERRORS
    # Connection refused, timeouts, DNS: Slack (or the way to it) is down.
    return isinstance(error, SlackClientError | OSError)


class Outbox:
    def __init__(
        self,
        client: WebClient,
        engine: Engine,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: timedelta = timedelta(minutes=2),
        first_retry: timedelta = timedelta(seconds=5),
        longest_retry: timedelta = timedelta(minutes=5),
    ) -> None:
        self._client = client
        self._engine = engine
        self._now = now
        self._lease = lease
        self._first_retry = first_retry
        self._longest_retry = longest_retry
        self.on_card_posted: CardPosted | None = None

    def call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        coalesce_key: str | None = None,
        card_for_request: int | None = None,
    ) -> dict[str, Any] | None:
        """Make the call now, or keep it for later; returns Slack's answer when it was made now."""
        params = {key: value for key, value in params.items() if value is not None}
        with Session(self._engine) as session:
            waiting = has_pending(session=session)
        if not waiting:
            try:
                return self._api(method, params)
            except (SlackClientError, OSError) as error:
                if not is_transient(error):
                    logger.error("Slack refused %s: %s", method, _describe(error))
                    return None
                logger.warning("Slack is unreachable (%s); keeping %s to send later", _describe(error), method)
        # Behind calls already waiting, so that a thread's replies keep their order.
        with session_scope(self._engine) as session:
            enqueue(
                session=session,
                method=method,
                params=params,
                at=self._now(),
                coalesce_key=coalesce_key,
                card_for_request=card_for_request,
            )
        return None

    def deliver_pending(self) -> int:
        """Send what is waiting, oldest first, until the queue is empty or Slack fails again. Returns how many."""
        sent = 0
        token = uuid.uuid4().hex
        while True:
            with session_scope(self._engine) as session:
                row = claim_next(session=session, now=self._now(), token=token, lease=self._lease)
                if row is None or row.id is None:
                    return sent
                row_id, method, params, card_for = row.id, row.method, dict(row.params), row.card_for_request
            try:
                answer = self._api(method, params)
            except (SlackClientError, OSError) as error:
                with session_scope(self._engine) as session:
                    if is_transient(error):
                        retry_later(
                            session=session,
                            row_id=row_id,
                            token=token,
                            at=self._now(),
                            error=_describe(error),
                            first=self._first_retry,
                            longest=self._longest_retry,
                        )
                        return sent
                    logger.error("Slack refused a kept %s for good: %s", method, _describe(error))
                    finish(
                        session=session,
                        row_id=row_id,
                        token=token,
                        status=OutboxStatus.DROPPED,
                        at=self._now(),
                        error=_describe(error),
                    )
                continue
            with session_scope(self._engine) as session:
                finish(
                    session=session, row_id=row_id, token=token, status=OutboxStatus.SENT, at=self._now(), error=None
                )
            sent += 1
            if card_for is not None and self.on_card_posted is not None:
                self.on_card_posted(card_for, MessageRef(channel=answer["channel"], ts=answer["ts"]))

    def _api(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self._client.api_call(method, json=params)
        return dict(response.data) if isinstance(response.data, dict) else {}


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return f"{error.response.get('error')} (HTTP {getattr(error.response, 'status_code', '?')})"
    return f"{type(error).__name__}: {error}"
