"""The App Home: a person's access, their requests, and what waits for their approval, with the cards' buttons."""

from __future__ import annotations

from typing import Any

from handlers.blocks.cards import VERB_PHRASES, decision_buttons, status_line, target_text
from handlers.blocks.elevations import elevation_buttons
from handlers.blocks.replies import grant_line
from handlers.blocks.text import context, escape, mention, plain, section, when
from services.home import SHOWN, Home
from services.views import RequestView

View = dict[str, Any]


def home_view(home: Home) -> View:
    blocks: list[dict[str, Any]] = [_header("Your access")]
    if home.grants:
        for grant in home.grants[:SHOWN]:
            blocks.append(section(grant_line(grant, home.now)))
            if not grant.permanent and grant.ends_at is not None:
                blocks.append(
                    {"type": "actions", "block_id": f"home_grant_{grant.id}", "elements": elevation_buttons(grant)}
                )
        if len(home.grants) > SHOWN:
            blocks.append(context(f"…and {len(home.grants) - SHOWN} more: `/access list` with your email"))
    else:
        email = f" ({escape(home.person.email)})" if home.person.email else ""
        blocks.append(section(f"Nothing accessbot granted is live for you{email}."))
    blocks.append(context("To ask for access, type `/access` in any channel; `/access help` shows every form."))

    blocks += [{"type": "divider"}, _header("Your requests")]
    if home.requests:
        blocks.append(section("\n".join(_request_line(view) for view in home.requests)))
    else:
        blocks.append(section("You have not asked for anything yet."))

    blocks += [{"type": "divider"}, _header("Waiting for your approval")]
    if home.waiting:
        for view in home.waiting:
            blocks.append(section(_waiting_text(view)))
            blocks.append(
                {"type": "actions", "block_id": f"home_request_{view.id}", "elements": decision_buttons(view)}
            )
        if home.more_waiting:
            blocks.append(context(f"…and {home.more_waiting} more in the approvals channel."))
    else:
        blocks.append(section("Nothing waits for your approval."))
    blocks.append(context(f"Updated {when(home.now)}"))
    return {"type": "home", "blocks": blocks}


def _actions(block_id: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": buttons}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text)}


def _request_line(view: RequestView) -> str:
    platforms = ", ".join(change.platform_label for change in view.changes)
    what = f"{VERB_PHRASES.get(view.verb, view.verb)} for {escape(view.target_email)} on {escape(platforms)}"
    return f"• *#{view.id}* {what}: {status_line(view)}"


def _waiting_text(view: RequestView) -> str:
    changes = "; ".join(f"{escape(change.describe())} on {escape(change.platform_label)}" for change in view.changes)
    return (
        f"*#{view.id}* {mention(view.requester_id)} asks to {VERB_PHRASES.get(view.verb, view.verb)} for "
        f"{target_text(view)}: {changes}. Reason: {escape(view.reason)}"
    )
