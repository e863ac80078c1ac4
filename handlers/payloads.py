"""Reading the parts of Slack payloads the bot made itself (button values, form state, private metadata).

Slack sends them back as the bot wrote them; anything else (a message from an older version, a form changed under
it, a forged request that still carried a valid signature) raises PayloadError, which the error handler turns into
a plain "nothing was changed" for the person, instead of a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class PayloadError(Exception):
    """A payload the bot cannot read. The message is for the person who clicked or submitted."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"⚠️ That {what} could not be read (it may come from an older message or form). Nothing was changed; "
            "try again from the newest message, or check with `/access status <request-id>`."
        )


def number(value: Any, what: str) -> int:
    """The id a button or form carries."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 12:  # "²".isdigit() too, but int() refuses it
        raise PayloadError(what)
    return int(text)


def metadata(view: Mapping[str, Any], what: str = "form") -> dict[str, Any]:
    """A form's private_metadata, written by the bot as JSON."""
    try:
        data = json.loads(view.get("private_metadata") or "")
    except (TypeError, ValueError):
        raise PayloadError(what) from None
    if not isinstance(data, dict):
        raise PayloadError(what)
    return data


def form_values(view: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    values = (view.get("state") or {}).get("values") if isinstance(view.get("state"), dict) else None
    if not isinstance(values, dict) or not all(isinstance(block, dict) for block in values.values()):
        raise PayloadError("form")
    return values


def form_field(values: Mapping[str, Mapping[str, Any]], block: str, action: str) -> dict[str, Any]:
    """One input's state; empty when the form does not have it."""
    found = values.get(block, {}).get(action)
    return dict(found) if isinstance(found, dict) else {}


def chosen(field: Mapping[str, Any]) -> str | None:
    """A select's chosen value."""
    option = field.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


def chosen_many(field: Mapping[str, Any]) -> list[str]:
    options = field.get("selected_options")
    if not isinstance(options, list):
        return []
    return [option["value"] for option in options if isinstance(option, dict) and isinstance(option.get("value"), str)]


def typed(field: Mapping[str, Any]) -> str | None:
    """A text input's value."""
    value = field.get("value")
    return value if isinstance(value, str) else None
