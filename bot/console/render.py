"""Block Kit and mrkdwn as terminal text, for the console."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain.durations import zone_named

_DATE = re.compile(r"<!date\^(\d+)\^[^|>]*\|([^>]*)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CDG][A-Z0-9]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<(?:mailto:)?([^|>]+)(?:\|([^>]*))?>")


class TextRenderer:
    def __init__(
        self,
        *,
        name_of: Callable[[str], str],
        zone: Callable[[], str | None],
        channel_name: Callable[[str], str] = lambda channel: channel,
    ) -> None:
        self._name_of = name_of
        self._zone = zone
        self._channel_name = channel_name

    def mrkdwn(self, text: str) -> str:
        zone = zone_named(self._zone())

        def date(match: re.Match[str]) -> str:
            moment = datetime.fromtimestamp(int(match.group(1)), UTC).astimezone(zone)
            return moment.strftime("%Y-%m-%d %H:%M %Z")

        text = _DATE.sub(date, text)
        text = _USER.sub(lambda m: "@" + self._name_of(m.group(1)), text)
        text = _GROUP.sub(lambda m: "@group:" + m.group(1), text)
        text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or self._channel_name(m.group(1))), text)
        text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
        return html.unescape(text)

    def blocks(self, blocks: list[dict[str, Any]], fallback: str = "") -> list[str]:
        if not blocks:
            return [self.mrkdwn(fallback)] if fallback else []
        lines: list[str] = []
        for block in blocks:
            lines.extend(self._block(block))
        return lines

    def _block(self, block: dict[str, Any]) -> list[str]:
        kind = block.get("type")
        if kind == "header":
            return [f"== {block['text']['text']} =="]
        if kind == "section":
            lines = self._text(block.get("text")).splitlines()
            for item in block.get("fields", []):
                label, _, value = self._text(item).partition("\n")
                lines.append(f"  {label.strip('*')}: {value}")
            return lines
        if kind == "context":
            return ["  " + line for element in block.get("elements", []) for line in self._text(element).splitlines()]
        if kind == "actions":
            elements = [element for element in block.get("elements", []) if "text" in element]
            buttons = " ".join(f"[{element['text']['text']}]" for element in elements)
            values = {element.get("value") for element in elements}
            # The id a console command needs to press these (a request, a task, a review row).
            if len(values) == 1 and (value := values.pop()):
                buttons += f"  (#{value})"
            return [buttons] if buttons else []
        if kind == "input":
            optional = " (optional)" if block.get("optional") else ""
            return [f"  ▸ {block['label']['text']}{optional}: {_describe_element(block.get('element', {}))}"]
        if kind == "divider":
            return ["  ---"]
        return []

    def _text(self, text: dict[str, Any] | None) -> str:
        if not text:
            return ""
        return self.mrkdwn(text["text"]) if text.get("type") == "mrkdwn" else str(text["text"])

    def view(self, view: dict[str, Any]) -> list[str]:
        title = view.get("title", {}).get("text", "form")
        return [f"┌ {title}", *("│ " + line for line in self.blocks(view.get("blocks", []))), "└"]


def _describe_element(element: dict[str, Any]) -> str:
    kind = element.get("type", "")
    options = element.get("options") or [o for group in element.get("option_groups", []) for o in group["options"]]
    if options:
        names = [option["value"] for option in options]
        shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
        return f"{kind} [{shown}]"
    return kind
