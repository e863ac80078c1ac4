"""Block Kit for temporary elevations: card lines, reminders with their buttons, and what is said when one ends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.durations import format_duration
from domain.elevation import ElevationStatus, describe_changes
from handlers import ids
from handlers.blocks.text import escape, mention, mrkdwn, plain, section, when
from services.elevation_actions import ElevationOutcome, ElevationResult
from services.views import ElevationView, RequestView

Message = dict[str, Any]
EXTENSIONS = ("1h", "4h", "1d", "3d", "1w")


def elevation_lines(view: RequestView) -> list[str]:
    """One line per elevation a request started, for its approval card."""
    return [elevation_line(elevation) for elevation in view.elevations]


def elevation_line(elevation: ElevationView) -> str:
    held = escape(elevation.describe_held())
    match elevation.status:
        case ElevationStatus.ACTIVE:
            line = f"⏱ Temporary ({held}) until {when(elevation.expires_at)}"
            if elevation.last_error:
                retry = f"; next try {when(elevation.next_attempt_at)}" if elevation.next_attempt_at else ""
                line += (
                    f"\n⚠️ Revert failed {elevation.attempts} time(s): {escape(elevation.last_error)}{retry}. "
                    "The bot keeps trying."
                )
            return line
        case ElevationStatus.REVERTING:
            return f"⏱ Ending now: reverting {held}…"
        case ElevationStatus.REVERTED:
            ended = when(elevation.ended_at) if elevation.ended_at else ""
            by = "" if elevation.ended_by in (None, "accessbot") else f" by {mention(str(elevation.ended_by))}"
            line = f"↩️ Ended {ended}{by}: {escape(elevation.describe_outcome())}"
            if elevation.drift:
                line += f"\n⚠️ Changed by hand meanwhile, left as found: {escape(describe_changes(elevation.drift))}"
            return line
        case ElevationStatus.SUPERSEDED:
            return f"⏹️ Ended when {escape(elevation.ended_by or 'a later change')} changed this access for good."
    return elevation.status.value


def reminder(view: RequestView, elevation: ElevationView, now: datetime, *, approvers: str | None = None) -> Message:
    """A reminder with Extend / Revoke now / Keep until expiry; `approvers` mentions them in the card's thread."""
    left = format_duration(elevation.time_left(now))
    who = f"{approvers}: " if approvers else ""
    text = (
        f"⏳ {who}{escape(elevation.target_email)}'s temporary access on {escape(elevation.platform)} "
        f"({escape(elevation.describe_held())}) ends {when(elevation.expires_at)}, in {left}. Request #{view.id}."
    )
    value = str(elevation.id)
    buttons: list[dict[str, Any]] = [
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
        {"type": "button", "action_id": ids.KEEP, "text": plain("Keep until expiry"), "value": value},
    ]
    blocks = [section(text), {"type": "actions", "block_id": f"elevation_{elevation.id}", "elements": buttons}]
    return {"text": f"Temporary access of {elevation.target_email} ends in {left}", "blocks": blocks}


def answered(elevation: ElevationView, text: str) -> Message:
    """The reminder once someone has answered it: the buttons give way to what was done."""
    return {"text": text, "blocks": [section(text)], "replace_original": True}


def ended_text(view: RequestView, elevation: ElevationView) -> str:
    who = "" if elevation.ended_by in (None, "accessbot") else f" by {mention(str(elevation.ended_by))}"
    early = " early" if who else ""
    return (
        f"↩️ {escape(elevation.target_email)}'s temporary access on {escape(elevation.platform)} (request #{view.id}) "
        f"ended{early}{who}: {escape(elevation.describe_outcome())}."
    )


def drift_text(view: RequestView, elevation: ElevationView, approvers: str) -> str:
    return (
        f"⚠️ {approvers}: while {escape(elevation.target_email)} was elevated on {escape(elevation.platform)}, "
        f"someone changed their access outside accessbot. The bot reverted only what the elevation added and left "
        f"this as it found it: {escape(describe_changes(elevation.drift))}. Please check it is intended."
    )


def revert_failed_text(elevation: ElevationView, approvers: str) -> str:
    retry = f" Next try {when(elevation.next_attempt_at)}." if elevation.next_attempt_at else ""
    return (
        f"🚨 {approvers}: accessbot could not end {escape(elevation.target_email)}'s temporary access on "
        f"{escape(elevation.platform)} after {elevation.attempts} attempts: {escape(elevation.last_error or '')}. "
        f"It keeps retrying.{retry} If it is urgent, revert by hand: {escape(elevation.describe_held())}."
    )


def extended_text(elevation: ElevationView) -> str:
    return (
        f"⏱ {escape(elevation.target_email)}'s temporary access on {escape(elevation.platform)} now lasts until "
        f"{when(elevation.expires_at)}."
    )


def elevation_notice(result: ElevationResult) -> str:
    elevation = result.elevation
    match result.outcome:
        case ElevationOutcome.NOT_FOUND:
            return "That temporary access no longer exists."
        case ElevationOutcome.REFUSED:
            return f"🚫 {escape(result.reason)} Nothing was changed."
        case ElevationOutcome.ENDED:
            return "That temporary access has already ended."
        case ElevationOutcome.EXTENDED:
            return extended_text(elevation) if elevation else "Extended."
        case ElevationOutcome.EXTENSION_REQUESTED:
            number = f" #{result.request.id}" if result.request else ""
            return f"📨 Extension request{number} sent to the approvers. Access still ends as planned until approved."
        case ElevationOutcome.REVOKED:
            return f"↩️ Revoked: {escape(elevation.describe_outcome())}." if elevation else "Revoked."
        case ElevationOutcome.REVOKE_PENDING:
            return (
                f"⚠️ Could not revert yet: {escape(result.reason)}. The bot keeps retrying and tells the approvers "
                "if it keeps failing."
            )
        case ElevationOutcome.KEPT:
            until = when(elevation.expires_at) if elevation else "its planned end"
            return f"👍 Kept until {until}."
    return result.outcome.value


def extend_form(elevation: ElevationView) -> dict[str, Any]:
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
                f"{escape(elevation.platform)} until {when(elevation.expires_at)}."
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
