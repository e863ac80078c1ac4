"""Block Kit for temporary elevations: card lines, reminders with their buttons, and what is said when one ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.durations import format_duration
from domain.ledger import EndReason, GrantState, describe_changes
from handlers import ids
from handlers.blocks.text import escape, mention, mrkdwn, plain, section, when
from services.grant_actions import GrantOutcome, GrantResult
from services.views import DriftReport, GrantView, RequestView

Message = dict[str, Any]
EXTENSIONS = ("1h", "4h", "1d", "3d", "1w")


def elevation_lines(view: RequestView) -> list[str]:
    """One line per elevation a request started, for its approval card."""
    return [elevation_line(elevation) for elevation in view.elevations]


def _until(elevation: GrantView) -> str:
    return when(elevation.ends_at) if elevation.ends_at else "its end"


def elevation_line(elevation: GrantView) -> str:
    held = escape(elevation.describe_held())
    until = _until(elevation)
    match elevation.state:
        case GrantState.APPLYING:
            return f"⏱ Temporary ({held}), being applied"
        case GrantState.ACTIVE:
            line = f"⏱ Temporary ({held}) until {until}"
            if elevation.answer == "kept" and elevation.answered_by:
                line += f"; kept by {mention(elevation.answered_by)}"
            return line
        case GrantState.ENDING:
            line = f"⏱ Ending: reverting {held}…"
            if elevation.last_error:
                retry = f"; next try {when(elevation.next_attempt_at)}" if elevation.next_attempt_at else ""
                line += (
                    f"\n⚠️ Revert failed {elevation.attempts} time(s): {escape(elevation.last_error)}{retry}. "
                    "The bot keeps trying."
                )
            return line
        case GrantState.ENDED:
            return _ended_line(elevation)
        case GrantState.FAILED:
            return f"⏱ Temporary ({held}): not applied"
    return elevation.state.value


def _ended_line(elevation: GrantView) -> str:
    ended = when(elevation.ended_at) if elevation.ended_at else ""
    match elevation.end_reason:
        case EndReason.SUPERSEDED | EndReason.REMOVED:
            return (
                f"⏹️ Ended {ended} when {escape(elevation.ended_by or 'a later change')} changed this access for good."
            )
        case EndReason.DRIFT:
            return (
                f"⏹️ Ended {ended}: what it gave was changed outside accessbot "
                f"({escape(describe_changes(elevation.drift))}), and left as found."
            )
    by = "" if elevation.ended_by in (None, "accessbot") else f" by {mention(str(elevation.ended_by))}"
    line = f"↩️ Ended {ended}{by}: {escape(elevation.describe_outcome())}"
    if elevation.drift:
        line += f"\n⚠️ Changed by hand meanwhile, left as found: {escape(describe_changes(elevation.drift))}"
    return line


def reminder(view: RequestView, elevation: GrantView, now: datetime, *, approvers: str | None = None) -> Message:
    """A reminder with Extend / Revoke now / Keep until expiry; `approvers` mentions them in the card's thread."""
    left = format_duration(elevation.time_left(now))
    who = f"{approvers}: " if approvers else ""
    text = (
        f"⏳ {who}{escape(elevation.target_email)}'s temporary access on {escape(elevation.platform)} "
        f"({escape(elevation.describe_held())}) ends {_until(elevation)}, in {left}. Request #{view.id}."
    )
    keep = {"type": "button", "action_id": ids.KEEP, "text": plain("Keep until expiry"), "value": str(elevation.id)}
    buttons = [*elevation_buttons(elevation), keep]
    blocks = [section(text), {"type": "actions", "block_id": f"elevation_{elevation.id}", "elements": buttons}]
    return {"text": f"Temporary access of {elevation.target_email} ends in {left}", "blocks": blocks}


def elevation_buttons(elevation: GrantView) -> list[dict[str, Any]]:
    """Extend… and Revoke now, for a live temporary grant (on its reminder and in the App Home)."""
    value = str(elevation.id)
    return [
        {"type": "button", "action_id": ids.EXTEND, "text": plain("Extend…"), "value": value},
        {
            "type": "button",
            "action_id": ids.REVOKE_NOW,
            "text": plain("Revoke now"),
            "style": "danger",
            "value": value,
            "confirm": {
                "title": plain("Revoke now?"),
                "text": mrkdwn(f"{escape(elevation.target_email)} goes back to what they had before, now."),
                "confirm": plain("Revoke now"),
                "deny": plain("Cancel"),
            },
        },
    ]


def answered(elevation: GrantView, text: str) -> Message:
    """The reminder once someone has answered it: the buttons give way to what was done."""
    return {"text": text, "blocks": [section(text)], "replace_original": True}


def ended_text(request_id: int, elevation: GrantView) -> str:
    who = "" if elevation.ended_by in (None, "accessbot") else f" by {mention(str(elevation.ended_by))}"
    early = " early" if who else ""
    return (
        f"↩️ {escape(elevation.target_email)}'s temporary access on {escape(elevation.platform)} "
        f"(request #{request_id}) ended{early}{who}: {escape(elevation.describe_outcome())}."
    )


#: Slack shows a message of up to about 40,000 characters; a digest is cut well before, in parts.
DIGEST_PART = 12_000


def ended_digest(ended: Sequence[tuple[int, GrantView]], *, yours: bool = False) -> list[str]:
    """Messages naming every temporary grant that ended (request id, grant), one line each, in as few parts as
    Slack allows."""
    whose = "Your requests' temporary access" if yours else "Temporary access"
    lines = [
        f"• #{request_id} {escape(elevation.target_email)} on {escape(elevation.platform)}: "
        f"{escape(elevation.describe_outcome())}"
        for request_id, elevation in ended
    ]
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if parts[-1] and size + len(line) > DIGEST_PART:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += len(line) + 1
    total = len(parts)
    return [
        f"↩️ {whose} ended for {len(ended)} grant(s)"
        + (f" (part {number} of {total})" if total > 1 else "")
        + ":\n"
        + "\n".join(part)
        for number, part in enumerate(parts, start=1)
    ]


def drift_text(report: DriftReport, approvers: str) -> str:
    requests = sorted({grant.request_id for grant in report.grants})
    held = (
        f" Access from request {', '.join(f'#{number}' for number in requests)} no longer covers it."
        if requests
        else ""
    )
    return (
        f"⚠️ {approvers}: someone changed {escape(report.target_email)}'s access on {escape(report.platform_label)} "
        f"outside accessbot: {escape(report.describe())}. accessbot leaves it as found and takes it as their "
        f"baseline from now on.{held} Please check it is intended."
    )


def revert_failed_text(elevation: GrantView, approvers: str) -> str:
    retry = f" Next try {when(elevation.next_attempt_at)}." if elevation.next_attempt_at else ""
    return (
        f"🚨 {approvers}: accessbot could not end {escape(elevation.target_email)}'s temporary access on "
        f"{escape(elevation.platform)} after {elevation.attempts} attempts: {escape(elevation.last_error or '')}. "
        f"It keeps retrying.{retry} If it is urgent, revert by hand: {escape(elevation.describe_held())}."
    )


def extended_text(elevation: GrantView) -> str:
    return (
        f"⏱ {escape(elevation.target_email)}'s temporary access on {escape(elevation.platform)} now lasts until "
        f"{_until(elevation)}."
    )


def elevation_notice(result: GrantResult) -> str:
    elevation = result.grant
    match result.outcome:
        case GrantOutcome.NOT_FOUND:
            return "That temporary access no longer exists."
        case GrantOutcome.REFUSED:
            return f"🚫 {escape(result.reason)} Nothing was changed."
        case GrantOutcome.ENDED:
            return "That temporary access has already ended."
        case GrantOutcome.ANSWERED:
            assert elevation is not None and elevation.answered_by is not None
            what = "kept it until its end" if elevation.answer == "kept" else "revoked it"
            return f"{mention(elevation.answered_by)} answered first and {what}; your answer changed nothing."
        case GrantOutcome.EXTENDED:
            return extended_text(elevation) if elevation else "Extended."
        case GrantOutcome.EXTENSION_REQUESTED:
            number = f" #{result.request.id}" if result.request else ""
            more = ""
            if result.request is not None and result.request.approvals:
                needed = result.request.requirements.approvals - len(result.request.approvals)
                more = f" Your approval counts; {needed} more needed."
            return (
                f"📨 Extension request{number} sent to the approvers.{more} Access still ends as planned until "
                "approved."
            )
        case GrantOutcome.REVOKED:
            return f"↩️ Revoked: {escape(elevation.describe_outcome())}." if elevation else "Revoked."
        case GrantOutcome.REVOKE_PENDING:
            return (
                f"⚠️ Could not revert yet: {escape(result.reason)}. The bot keeps retrying and tells the approvers "
                "if it keeps failing."
            )
        case GrantOutcome.REVOKING:
            return (
                f"⏳ Revoked: the access is taken away as soon as {escape(result.reason)}; you get a message when it "
                "has ended."
            )
        case GrantOutcome.KEPT:
            until = when(elevation.ends_at) if elevation and elevation.ends_at else "its planned end"
            return f"👍 Kept until {until}."
    return result.outcome.value


def extend_form(elevation: GrantView) -> dict[str, Any]:
    options = [{"text": plain(f"+{span}"), "value": span} for span in EXTENSIONS]
    return {
        "type": "modal",
        "callback_id": ids.EXTEND_FORM,
        "private_metadata": str(elevation.id),
        "title": plain("Extend access"),
        "submit": plain("Extend"),
        "close": plain("Cancel"),
        "blocks": [
            section(
                f"{escape(elevation.target_email)} holds {escape(elevation.describe_held())} on "
                f"{escape(elevation.platform)} until {_until(elevation)}."
            ),
            {
                "type": "input",
                "block_id": ids.EXTEND_SPAN,
                "label": plain("Extend by"),
                "element": {
                    "type": "static_select",
                    "action_id": ids.EXTEND_SPAN,
                    "options": options,
                    "initial_option": options[0],
                },
            },
            {
                "type": "input",
                "block_id": ids.EXTEND_REASON,
                "label": plain("Why is more time needed?"),
                "element": {"type": "plain_text_input", "action_id": ids.EXTEND_REASON, "max_length": 500},
            },
        ],
    }
