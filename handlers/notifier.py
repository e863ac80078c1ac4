"""Posting and redrawing approval cards, thread replies and DMs: the Slack side of services.ports.Notifier."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from domain.lifecycle import RequestStatus
from handlers.blocks.cards import approval_card, outcome_text, requester_text
from services.ports import MessageRef
from services.views import RequestView

logger = logging.getLogger("accessbot.slack")


class SlackNotifier:
    def __init__(self, client: WebClient, approvals_channel: str) -> None:
        self._client = client
        self._channel = approvals_channel

    def request_submitted(self, view: RequestView) -> MessageRef | None:
        try:
            response = self._client.chat_postMessage(channel=self._channel, **approval_card(view))
        except (SlackClientError, OSError):
            logger.exception("could not post the approval card for request %s to %s", view.id, self._channel)
            return None
        return MessageRef(channel=response["channel"], ts=response["ts"])

    def request_progressed(self, view: RequestView) -> None:
        self._redraw(view)

    def request_concluded(self, view: RequestView) -> None:
        self._redraw(view)
        if view.card is not None:
            self._post(channel=view.card.channel, text=outcome_text(view), thread_ts=view.card.ts)
        if view.status in (RequestStatus.APPLIED, RequestStatus.DENIED):
            self._post(channel=view.requester_id, text=requester_text(view))

    def _redraw(self, view: RequestView) -> None:
        if view.card is None:
            return
        try:
            self._client.chat_update(channel=view.card.channel, ts=view.card.ts, **approval_card(view))
        except (SlackClientError, OSError):
            logger.exception("could not update the card of request %s", view.id)

    def _post(self, *, channel: str, text: str, thread_ts: str | None = None) -> None:
        try:
            self._client.chat_postMessage(channel=channel, text=text, thread_ts=thread_ts)
        except (SlackClientError, OSError):
            logger.exception("could not post to %s", channel)
