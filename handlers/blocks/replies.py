"""Ephemeral replies to `/access` (status, list) and answers to button clicks; help and errors are in help.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from domain.access import AccessState
from domain.durations import format_duration
from domain.lifecycle import RequestStatus
from handlers.blocks.cards import expiry_text, status_line, target_text
from handlers.blocks.text import Message, context, escape, mention, notice, section, when
from services.decisions import DecisionResult, Outcome
from services.views import GrantView, RequestView
from storage.models import AuditEvent


def submitted_notice(view: RequestView) -> Message:
    where = f"<#{view.card.channel}>" if view.card and view.card.channel.startswith("C") else "the approvals channel"
    if view.card is None:
        return notice(
            f"Request #{view.id} is saved, but its approval card could not be posted. "
            "An admin can see it with `accessbot requests`."
        )
    return notice(f"📨 Request #{view.id} for {escape(view.target_email)} is waiting for approval in {where}.")


def break_glass_notice(view: RequestView) -> Message:
    outcome = "applied" if view.status is RequestStatus.APPLIED else view.status.value.replace("_", " ")
    return notice(
        f"🚨 Break-glass request #{view.id} {outcome} for {escape(view.target_email)} {expiry_text(view)}. The team "
        "has been told, and an approver will review it afterwards."
    )


def decision_notice(result: DecisionResult, request_id: int) -> str | None:
    """What the clicker alone sees, or None when the card itself shows the result."""
    view = result.view
    match result.outcome:
        case Outcome.DONE:
            return None
        case Outcome.RECORDED:
            needs = view.requirements.approvals - len(view.approvals) if view else 1
            return f"👍 Your approval of request #{request_id} is recorded; it needs {needs} more, from someone else."
        case Outcome.NOT_FOUND:
            return f"Request #{request_id} does not exist."
        case Outcome.REFUSED:
            return f"🚫 {escape(result.reason)} Nothing was changed."
        case Outcome.EXPIRED:
            return f"⌛ {escape(result.reason)} Nothing was changed."
        case Outcome.NOT_RETRYABLE:
            state = view.status.value if view else "not failed"
            return f"Request #{request_id} is {state}; only failed requests can be retried."
        case Outcome.ALREADY_DECIDED:
            if view is None:
                return f"Request #{request_id} was already decided."
            by = f" by {mention(view.decided_by)}" if view.decided_by else ""
            at = f" {when(view.decided_at)}" if view.decided_at else ""
            if view.status in (RequestStatus.APPLYING, RequestStatus.APPROVED):
                return f"Request #{request_id} was already approved{by}{at} and is being applied."
            return f"Request #{request_id} was already {_decided_word(view.status)}{by}{at}."
    return None


def _decided_word(status: RequestStatus) -> str:
    return {
        RequestStatus.APPLIED: "approved",
        RequestStatus.FAILED: "approved",
        RequestStatus.DENIED: "denied",
        RequestStatus.EXPIRED: "closed (it expired)",
        RequestStatus.CANCELLED: "withdrawn",
    }.get(status, status.value)


def status_message(view: RequestView, events: Sequence[AuditEvent]) -> Message:
    lines = [
        f"*Request #{view.id}*: {view.verb} for {target_text(view)}, asked by {mention(view.requester_id)} "
        f"{when(view.created_at)}",
        f"Reason: {escape(view.reason)}" + (f" · Ticket: {escape(view.ticket)}" if view.ticket else ""),
        status_line(view),
    ]
    if view.verb != "remove":
        lines.append(f"Duration: {expiry_text(view)}")
    for change in view.changes:
        line = f"• *{escape(change.platform_label)}* {change.status.value}: {escape(change.describe())}"
        if change.error:
            line += f": {escape(change.error)}"
        lines.append(line)
    history = [f"{when(event.at)} {event.event} by {_actor(event.actor)}" for event in events[-10:]]
    blocks = [section("\n".join(lines))]
    if history:
        blocks.append(context("\n".join(history)))
    return {"response_type": "ephemeral", "text": f"Request #{view.id}: {view.status.value}", "blocks": blocks}


def _actor(actor: str) -> str:
    return mention(actor) if actor[:1] in ("U", "W") else actor


def access_lines(
    email: str, access: Mapping[str, AccessState | str], invited: Mapping[str, datetime | None] | None = None
) -> list[str]:
    """One line per platform: the access (and whether its invitation is still to accept), or why it could not be
    read."""
    lines = []
    for platform, state in sorted(access.items()):
        text = escape(state.describe() if isinstance(state, AccessState) else f"could not be read: {state}")
        if invited and platform in invited and isinstance(state, AccessState) and state.member:
            expires = invited[platform]
            text += " ✉️ _invited, not accepted yet" + (f"; the invitation expires {when(expires)}_" if expires else "_")
        lines.append(f"• *{escape(platform)}*: {text}")
    return [f"*{escape(email)}*", *lines]


def grant_line(grant: GrantView, now: datetime) -> str:
    """One live grant: whose, where, what it covers, from which request, and until when."""
    who = f"{escape(grant.target_email)} on {escape(grant.platform)}"
    source = f"request #{grant.request_id}"
    if grant.permanent:
        since = f" since {when(grant.started_at)}" if grant.started_at else ""
        return f"• {who}: {escape(grant.describe_covers())}; permanent{since} ({source})"
    if grant.ends_at is None:
        return f"• {who}: {escape(grant.describe_held())}; being applied ({source})"
    left = format_duration(grant.time_left(now))
    return f"• {who}: {escape(grant.describe_held())}; ends {when(grant.ends_at)}, {left} left ({source})"


def list_message(
    *,
    open_requests: Sequence[RequestView],
    access: tuple[str, Mapping[str, AccessState | str]] | None,
    grants: Sequence[GrantView] = (),
    now: datetime | None = None,
    yours: tuple[str, Mapping[str, AccessState | str]] | None = None,
    invited: Mapping[str, Mapping[str, datetime | None]] | None = None,
) -> Message:
    """`invited`: per person, the platforms whose invitation they have not accepted yet, and when it expires."""
    invited = invited or {}
    blocks = []
    if yours is not None:
        email, held = yours
        lines = access_lines(email, held, invited.get(email))[1:]
        blocks.append(section("\n".join([f"*Your access* ({escape(email)})", *lines])))
    if access is not None:
        blocks.append(section("\n".join(access_lines(*access, invited.get(access[0])))))
    if grants and now is not None:
        title = "*What accessbot granted, still in place*" if access is not None else "*Active temporary access*"
        blocks.append(section("\n".join([title, *(grant_line(grant, now) for grant in grants)])))
    if open_requests:
        lines = ["*Open and recent requests*"]
        for view in open_requests:
            platforms = ", ".join(view.platforms)
            lines.append(
                f"• #{view.id} {view.verb} {escape(view.target_email)} on {escape(platforms)}: {view.status.value}"
            )
        blocks.append(section("\n".join(lines)))
    if not blocks:
        blocks.append(section("No requests yet. Try `/access help`."))
    return {"response_type": "ephemeral", "text": "Access overview", "blocks": blocks}
