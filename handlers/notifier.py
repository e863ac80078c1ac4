"""Posting and redrawing approval cards, thread replies and DMs: the Slack side of services.ports.Notifier.

Every call goes through the outbox, so nothing is lost while Slack is unreachable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from domain.lifecycle import RequestStatus
from handlers.blocks.cards import (
    approval_card,
    approvers_text,
    break_glass_text,
    outcome_text,
    pending_reminder_text,
    removal_complete_text,
    requester_text,
    target_text_dm,
    told_people,
)
from handlers.blocks.elevations import (
    drift_text,
    ended_digest,
    ended_text,
    extended_text,
    reminder,
    revert_failed_text,
)
from handlers.blocks.reviews import review_message, review_messages
from handlers.blocks.tasks import notices_message, task_message
from handlers.blocks.text import mention
from handlers.outbox import HOME, REDRAW, Outbox
from services.context import ServiceContext
from services.offboarding import PlatformNotice
from services.ports import MessageRef
from services.reviews import ReviewView
from services.views import DriftReport, EndedGrant, GrantView, RequestView, TaskView

logger = logging.getLogger("accessbot.slack")


def card_of(ctx: ServiceContext, request_id: int) -> dict[str, Any] | None:
    """A request's approval card as it is now (for a redraw the outbox kept in its background lane)."""
    view = ctx.load_view(request_id)
    return approval_card(view, compliance_channel=ctx.removal_settings.compliance_channel) if view else None


#: From this many temporary grants ending in one sweep, their cards are redrawn in the background lane, once nothing
#: more urgent waits, rather than at once. (What people are told goes in digests: `Outbox.digest`.)
DIGEST_FROM = 4


class SlackNotifier:
    def __init__(
        self,
        outbox: Outbox,
        approvals_channel: str,
        *,
        reviews_channel: str | None = None,
        review_rows: int = 20,
        compliance_channel: str | None = None,
    ) -> None:
        self._outbox = outbox
        self._compliance = compliance_channel
        self._channel = approvals_channel
        self._reviews_channel = reviews_channel or approvals_channel
        self._review_rows = review_rows
        #: Who has opened their App Home (set by the composition root): their Homes are published again when
        #: something in them changes.
        self.home_viewers: Callable[[], set[str]] = set

    def request_submitted(self, view: RequestView) -> MessageRef | None:
        answer = self._outbox.call(
            "chat.postMessage",
            {"channel": self._channel, **approval_card(view, compliance_channel=self._compliance)},
            card_for_request=view.id,
        )
        self._refresh_homes(everyone=True)
        return MessageRef(channel=answer["channel"], ts=answer["ts"]) if answer else None

    def request_progressed(self, view: RequestView) -> None:
        self._redraw(view)
        self._refresh_homes(everyone=True)

    def request_concluded(self, view: RequestView) -> None:
        self._redraw(view)
        self._refresh_homes(everyone=True)
        if view.card is not None:
            self._post(channel=view.card.channel, text=outcome_text(view), thread_ts=view.card.ts)
        if view.status in (RequestStatus.APPLIED, RequestStatus.DENIED, RequestStatus.EXPIRED):
            self._post(channel=view.requester_id, text=requester_text(view))
        if view.status is RequestStatus.APPLIED:
            # After the change (a removal's person hears of it only once it is done), as the card says.
            for person in told_people(view)[1:]:
                self._post(channel=person, text=target_text_dm(view))
            if view.verb == "remove" and self._compliance:
                self._post(channel=self._compliance, text=removal_complete_text(view))

    def request_reminder(self, view: RequestView, *, escalate_to: str | None = None) -> None:
        if view.card is not None:
            text = pending_reminder_text(view, escalate_to=escalate_to)
            self._post(channel=view.card.channel, text=text, thread_ts=view.card.ts, broadcast=True)

    def break_glass_used(self, view: RequestView, channel: str | None) -> None:
        self._post(channel=channel or self._channel, text=break_glass_text(view))

    def manual_tasks_opened(self, view: RequestView, tasks: tuple[TaskView, ...]) -> None:
        if view.card is None:
            return
        for task in tasks:
            message = task_message(view, task, approvers=approvers_text(view))
            self._send(channel=view.card.channel, thread_ts=view.card.ts, **message)

    def removal_notices(self, view: RequestView, notices: tuple[PlatformNotice, ...]) -> None:
        if view.card is not None and notices:
            self._send(channel=view.card.channel, thread_ts=view.card.ts, **notices_message(view, notices))

    def manual_task_reminder(self, view: RequestView, task: TaskView, now: datetime) -> None:
        if view.card is None:
            return
        message = task_message(view, task, approvers=approvers_text(view), reminder=True, now=now)
        self._send(channel=view.card.channel, thread_ts=view.card.ts, reply_broadcast=True, **message)

    def elevation_reminder(self, view: RequestView, elevation: GrantView, now: datetime) -> None:
        self._send(channel=view.requester_id, **reminder(view, elevation, now))
        if view.card is not None:
            message = reminder(view, elevation, now, approvers=approvers_text(view))
            self._send(channel=view.card.channel, thread_ts=view.card.ts, **message)

    def elevations_ended(self, ended: Sequence[EndedGrant]) -> None:
        people = [person for item in ended for person in (item.requester_id, item.target_slack_id) if person]
        self._refresh_homes(people=people)
        if len(ended) < DIGEST_FROM:
            for item in ended:
                if item.card is not None:
                    self._outbox.call(REDRAW, self._redraw_params(item), coalesce_key=self._key(item.card))
        else:
            # Many at once (an engagement's or a quarter's end): the cards are redrawn when nothing more urgent waits.
            self._outbox.later(
                [(REDRAW, self._redraw_params(item), self._key(item.card)) for item in ended if item.card is not None]
            )
        # The approvals channel and each requester hear at most once a minute (elevations.digest_seconds), however
        # the grants' ends fall: one grant in its card's thread and a DM; several in one digest naming every one.
        held: dict[str, list[dict[str, Any]]] = {}
        for item in ended:
            notice = {"request_id": item.request_id, "grant": item.grant.model_dump(mode="json")}
            channel = item.card.channel if item.card else self._channel
            held.setdefault(channel, []).append({**notice, "thread_ts": item.card.ts if item.card else None})
            held.setdefault(item.requester_id, []).append({**notice, "yours": True})
        self._outbox.digest(held)

    def draw_digest(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages a held digest becomes when it goes out (the outbox calls it)."""
        recipient, items = params["recipient"], params["items"]
        ended = [(int(item["request_id"]), GrantView.model_validate(item["grant"])) for item in items]
        if len(items) == 1:
            (request_id, grant) = ended[0]
            return [
                {"channel": recipient, "text": ended_text(request_id, grant), "thread_ts": items[0].get("thread_ts")}
            ]
        yours = any(item.get("yours") for item in items)
        return [{"channel": recipient, "text": text} for text in ended_digest(ended, yours=yours)]

    @staticmethod
    def _redraw_params(item: EndedGrant) -> dict[str, Any]:
        """A card redraw drawn when it is sent (handlers.outbox)."""
        assert item.card is not None
        return {"channel": item.card.channel, "ts": item.card.ts, "request_id": item.request_id}

    def elevation_revert_failed(self, view: RequestView, elevation: GrantView, *, escalate: bool) -> None:
        self._redraw(view)
        if escalate and view.card is not None:
            text = revert_failed_text(elevation, approvers_text(view))
            self._post(channel=view.card.channel, text=text, thread_ts=view.card.ts, broadcast=True)

    def elevation_extended(self, view: RequestView, elevation: GrantView) -> None:
        self._redraw(view)
        self._refresh_homes(people=_people_of(view))
        if view.card is not None:
            self._post(channel=view.card.channel, text=extended_text(elevation), thread_ts=view.card.ts)

    def drift_found(self, report: DriftReport) -> None:
        approvers = ", ".join(mention(approver) for approver in report.approvers) or "Approvers"
        self._post(channel=self._channel, text=drift_text(report, approvers))

    def review_posted(self, review: ReviewView) -> dict[int, MessageRef]:
        placed: dict[int, MessageRef] = {}
        for item_ids, message in review_messages(review, per_message=self._review_rows):
            answer = self._outbox.call("chat.postMessage", {"channel": self._reviews_channel, **message})
            if answer:
                placed.update(dict.fromkeys(item_ids, MessageRef(channel=answer["channel"], ts=answer["ts"])))
        return placed

    def review_decided(self, review: ReviewView, message: MessageRef) -> None:
        items = review.in_message(message)
        if items:
            self._update(message, review_message(review, items[0].platform, items))

    def _refresh_homes(self, *, people: Iterable[str] = (), everyone: bool = False) -> None:
        """Publish again the Homes of these people, or of everyone who opened theirs (a request's change can add to
        or take from what waits for any approver), among those who opened theirs."""
        try:
            viewers = self.home_viewers()
            for user_id in sorted(viewers if everyone else viewers & set(people)):
                self._outbox.call(HOME, {"user_id": user_id}, coalesce_key=f"home:{user_id}")
        except Exception:
            # A Home a moment behind is no reason to fail what the person did: it is drawn afresh when opened.
            logger.warning("could not publish App Homes again", exc_info=True)

    def _redraw(self, view: RequestView) -> None:
        if view.card is not None:
            self._update(view.card, approval_card(view, compliance_channel=self._compliance))

    def _update(self, message: MessageRef, content: dict[str, Any]) -> None:
        # Of several redraws of one message waiting for Slack, only the newest needs sending.
        params = {"channel": message.channel, "ts": message.ts, **content}
        self._outbox.call("chat.update", params, coalesce_key=self._key(message))

    @staticmethod
    def _key(message: MessageRef) -> str:
        return f"{message.channel}:{message.ts}"

    def _post(self, *, channel: str, text: str, thread_ts: str | None = None, broadcast: bool = False) -> None:
        # Broadcast: a thread reply that also shows in the channel, for what approvers must not miss.
        self._send(channel=channel, text=text, thread_ts=thread_ts, reply_broadcast=broadcast or None)

    def _send(self, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        self._outbox.call("chat.postMessage", {"channel": channel, "text": text, "blocks": blocks, **extra})


def _people_of(view: RequestView) -> list[str]:
    return [view.requester_id] + ([view.target_slack_id] if view.target_slack_id else [])
