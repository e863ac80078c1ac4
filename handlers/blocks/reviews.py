"""Block Kit for access reviews: one message per platform (split when long), one row per person with Keep / Remove."""

from __future__ import annotations

from typing import Any

from handlers import ids
from handlers.blocks.text import context, escape, mention, mrkdwn, plain, section, when
from services.review_actions import KEEP, REMOVE, REMOVING, ReviewOutcome, ReviewResult
from services.reviews import ReviewItemView, ReviewView

Message = dict[str, Any]

GUIDE = (
    "*Keep*: the access is still needed; recorded with your name in the audit trail. *Remove*: opens an ordinary "
    "removal request (the platform's default method) that another approver decides. Only the platform's approvers "
    "can answer, and nobody answers for their own row."
)


def review_messages(review: ReviewView, *, per_message: int) -> list[tuple[list[int], Message]]:
    """Every message of a review, with the ids of the rows each one shows."""
    messages: list[tuple[list[int], Message]] = []
    for platform in review.platforms():
        rows = review.items_on(platform)
        for start in range(0, max(len(rows), 1), per_message):
            chunk = rows[start : start + per_message]
            messages.append(([item.id for item in chunk], review_message(review, platform, chunk)))
    for platform, error in sorted(review.errors.items()):
        text = (
            f"⚠️ Access review #{review.id}: the members of *{escape(platform)}* could not be listed: "
            f"{escape(error)}. Review them on the platform, or run `accessbot review` again once it answers."
        )
        messages.append(
            ([], {"text": f"Access review #{review.id}: {platform} could not be listed", "blocks": [section(text)]})
        )
    return messages


def review_message(review: ReviewView, platform: str, chunk: list[ReviewItemView]) -> Message:
    rows = review.items_on(platform)
    first = rows.index(chunk[0]) + 1 if chunk else 0
    flagged = sum(1 for item in rows if item.flagged)
    span = f", rows {first} to {first + len(chunk) - 1}" if len(chunk) < len(rows) else ""
    title = f"Access review #{review.id}: {review.label(platform)}"
    people = "nobody has access" if not rows else f"{_people(len(rows))} with access, {flagged} flagged{span}"
    summary = f"{people}. Started {when(review.started_at)}"
    if platform not in review.reports_activity:
        summary += "; this platform does not report activity, so dormant accounts cannot be flagged"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(title)}, context(summary + ".")]
    for item in chunk:
        blocks.extend(_row(item))
    if chunk:
        blocks.append(context(GUIDE))
    return {"text": f"{title} ({_people(len(rows))}, {flagged} flagged)", "blocks": blocks}


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def _row(item: ReviewItemView) -> list[dict[str, Any]]:
    lines = [f"*{escape(item.email)}* · {escape(item.access.describe())}"]
    if item.last_active is not None:
        lines.append(f"last active {when(item.last_active)}")
    lines.extend(f"⚠️ {escape(finding.text)}" for finding in item.findings)
    blocks: list[dict[str, Any]] = [section("\n".join(lines))]
    if item.decision is None:
        blocks.append({"type": "actions", "block_id": f"review_item_{item.id}", "elements": _buttons(item)})
    else:
        blocks.append(context(_decision(item)))
    return blocks


def _buttons(item: ReviewItemView) -> list[dict[str, Any]]:
    value = str(item.id)
    return [
        {"type": "button", "action_id": ids.REVIEW_KEEP, "text": plain("Keep"), "value": value},
        {
            "type": "button",
            "action_id": ids.REVIEW_REMOVE,
            "text": plain("Remove…"),
            "style": "danger",
            "value": value,
            "confirm": {
                "title": plain("Ask to remove this access?"),
                "text": mrkdwn(
                    f"This opens a removal request for {escape(item.email)} on {escape(item.platform_label)}; "
                    "another approver decides it."
                ),
                "confirm": plain("Open the request"),
                "deny": plain("Cancel"),
            },
        },
    ]


def _decision(item: ReviewItemView) -> str:
    by = mention(item.decided_by) if item.decided_by else "someone"
    at = f" {when(item.decided_at)}" if item.decided_at else ""
    if item.decision == KEEP:
        return f"✅ Kept by {by}{at}"
    if item.decision == REMOVE:
        return f"🗑️ Removal requested by {by}{at}: request #{item.request_id}"
    if item.decision == REMOVING:
        return f"⏳ {by} is opening a removal request…"
    return item.decision or ""


def review_notice(result: ReviewResult) -> str:
    match result.outcome:
        case ReviewOutcome.NOT_FOUND:
            return "That review row no longer exists."
        case ReviewOutcome.ALREADY_DECIDED:
            item = result.item
            return f"Already answered: {_decision(item)}." if item else "Already answered."
        case ReviewOutcome.REFUSED:
            return f"🚫 {escape(result.reason)} Nothing was recorded."
        case ReviewOutcome.KEPT:
            return "✅ Recorded: kept."
        case ReviewOutcome.REMOVAL_REQUESTED:
            request = result.request
            return f"🗑️ Removal request #{request.id} is open for approval." if request else "🗑️ Removal requested."
    return result.outcome.value
