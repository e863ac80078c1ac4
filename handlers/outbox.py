"""Every message the bot posts or redraws goes through here: sent at once when Slack answers, kept in the database
when Slack is unreachable, and delivered in order when it is back (the scheduler drains it after every sweep).

What happened on the platforms never waits for Slack: a change is applied and recorded whatever Slack does, and the
messages about it follow when they can.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import Engine

from services.ports import MessageRef, PersonNotFound
from storage.db import reading, session_scope
from storage.outbox import (
    DIGEST,
    Lane,
    OutboxStatus,
    claim_next,
    enqueue,
    enqueue_many,
    finish,
    has_pending,
    hold,
    next_digest,
    retry_later,
)

logger = logging.getLogger("accessbot.slack")

# Slack error codes that say "not now" rather than "never": the call is kept and tried again.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "timeout"}
)
CardPosted = Callable[[int, MessageRef], None]
#: A kept `card.redraw` of request N becomes the `chat.update` of its card as it is when it goes out.
CardRedraw = Callable[[int], dict[str, Any] | None]
REDRAW = "card.redraw"
#: A kept `home.publish` for a user becomes the `views.publish` of their App Home as it is when it goes out.
HomeRender = Callable[[str], dict[str, Any] | None]
HOME = "home.publish"
#: A kept digest (its parameters: the recipient and the notices held for it) becomes its messages when it goes out.
DigestRender = Callable[[dict[str, Any]], list[dict[str, Any]]]


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
        digest_window: timedelta = timedelta(minutes=1),
        digest_spacing: timedelta = timedelta(seconds=1),
    ) -> None:
        self._client = client
        self._engine = engine
        self._now = now
        self._lease = lease
        self._first_retry = first_retry
        self._longest_retry = longest_retry
        self._digest_window = digest_window
        self._digest_spacing = digest_spacing
        self.on_card_posted: CardPosted | None = None
        self.render_card: CardRedraw | None = None
        self.render_home: HomeRender | None = None
        self.render_digest: DigestRender | None = None
        #: Told when a digest is held, so that whoever delivers looks at when it is due (the scheduler's courier).
        self.on_held: Callable[[], None] | None = None

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
        with reading(self._engine) as session:
            waiting = has_pending(session=session, lane=Lane.NOW)
        if not waiting:
            try:
                outgoing, ready = self._drawn(method, params)
                return self._api(outgoing, ready) if ready else {}
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

    def later(self, calls: Sequence[tuple[str, dict[str, Any], str | None]]) -> None:
        """Keep calls (method, params, coalesce key) for the background lane, in one transaction: they are sent when
        nothing more urgent waits (redraws that may lag)."""
        kept = [
            (method, {key: value for key, value in params.items() if value is not None}, coalesce_key)
            for method, params, coalesce_key in calls
        ]
        with session_scope(self._engine) as session:
            enqueue_many(session=session, calls=kept, at=self._now(), lane=Lane.BACKGROUND)

    def digest(self, held: dict[str, list[dict[str, Any]]]) -> None:
        """Keep notices (by recipient: a channel or a person) for the recipients' digests, in one transaction: each
        recipient hears at most once a window, however many notices come meanwhile (`deliver_pending` sends them
        when due)."""
        with session_scope(self._engine) as session:
            for recipient, items in sorted(held.items()):
                hold(
                    session=session,
                    recipient=recipient,
                    items=items,
                    now=self._now(),
                    window=self._digest_window,
                    spacing=self._digest_spacing,
                )
        if self.on_held is not None:
            self.on_held()

    def next_digest(self) -> datetime | None:
        """When the next held digest is due (for whoever delivers to wake up then)."""
        with reading(self._engine) as session:
            return next_digest(session=session)

    def deliver_pending(self, *, background: int = 200) -> int:
        """Send what is waiting, oldest first: all of the now lane, the digests that are due, then up to
        `background` calls of the background lane, stopping when Slack fails again. Returns how many were sent."""
        sent = self._deliver(Lane.NOW, limit=None)
        if not self._waiting(Lane.NOW):
            sent += self._deliver(Lane.DIGEST, limit=None)
        if background and not self._waiting(Lane.NOW):
            sent += self._deliver(Lane.BACKGROUND, limit=background)
        return sent

    def _waiting(self, lane: Lane) -> bool:
        with reading(self._engine) as session:
            return has_pending(session=session, lane=lane)

    def _deliver(self, lane: Lane, *, limit: int | None) -> int:
        sent = 0
        token = uuid.uuid4().hex
        while limit is None or sent < limit:
            with session_scope(self._engine) as session:
                row = claim_next(session=session, now=self._now(), token=token, lease=self._lease, lane=lane)
                if row is None or row.id is None:
                    return sent
                row_id, method, params, card_for = row.id, row.method, dict(row.params), row.card_for_request
            answer: dict[str, Any] = {}
            try:
                if method == DIGEST:
                    # A digest's messages, in order; one that Slack refused part-way is sent again whole.
                    for message in self.render_digest(params) if self.render_digest is not None else []:
                        answer = self._api(
                            "chat.postMessage", {key: value for key, value in message.items() if value is not None}
                        )
                else:
                    method, params = self._drawn(method, params)
                    answer = self._api(method, params) if params else {}
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
        return sent

    def _drawn(self, method: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The Web API call to make: a card's redraw and a Home are drawn as they are now (no parameters: nothing
        to send any more)."""
        if method == REDRAW:
            card = self.render_card(int(params["request_id"])) if self.render_card is not None else None
            return "chat.update", {"channel": params["channel"], "ts": params["ts"], **card} if card else {}
        if method == HOME:
            try:
                view = self.render_home(params["user_id"]) if self.render_home is not None else None
            except PersonNotFound:
                view = None  # gone from the workspace: no Home to draw
            return "views.publish", {"user_id": params["user_id"], "view": view} if view else {}
        return method, params

    def _api(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self._client.api_call(method, json=params)
        return dict(response.data) if isinstance(response.data, dict) else {}


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return f"{error.response.get('error')} (HTTP {getattr(error.response, 'status_code', '?')})"
    return f"{type(error).__name__}: {error}"
