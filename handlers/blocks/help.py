"""How to use `/access`, and what is wrong with a command: answered from the configuration alone, at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.catalog import RoleCatalog
from domain.commands import EXAMPLES, USAGE, CommandError
from handlers.blocks.text import Message, code, context, section


def help_message(catalogs: Mapping[str, RoleCatalog], topic: str | None = None) -> Message:
    verbs = [topic] if topic in USAGE else list(USAGE)
    lines = ["*/access*: request, change and remove access on analytics platforms. Every change needs an approver."]
    for verb in verbs:
        lines.append(f"• {code(USAGE[verb])}\n    e.g. {code(EXAMPLES[verb])}")
    blocks = [section("\n".join(lines))]
    if topic in (None, "add", "update"):
        blocks.append(section(_roles_text(catalogs)))
    blocks.append(
        context(
            "Without `on`, the role is the account role; with `on`, it is the role on each project, module or site. "
            "Durations: 30m, 4h, 2d, 1w. `/access` alone opens a form."
        )
    )
    return {"response_type": "ephemeral", "text": "How to use /access", "blocks": blocks}


def _roles_text(catalogs: Mapping[str, RoleCatalog]) -> str:
    lines = []
    for name, catalog in sorted(catalogs.items()):
        lines.append(f"*{name}*: account roles {', '.join(catalog.account_roles)}")
        for kind, scopes in catalog.scope_kinds().items():
            for roles, names in _group_by_roles(scopes).items():
                lines.append(f"    {kind} {', '.join(names)}: {', '.join(roles)}")
    return "\n".join(lines)


def _group_by_roles(scopes: Sequence[Any]) -> dict[tuple[str, ...], list[str]]:
    grouped: dict[tuple[str, ...], list[str]] = {}
    for scope in scopes:
        grouped.setdefault(scope.roles, []).append(scope.name)
    return grouped


def command_error(error: CommandError) -> Message:
    lines = [f"⚠️ {error.problem}"]
    if error.usage:
        lines.append(f"Usage: {code(error.usage)}")
    if error.example:
        lines.append(f"Example: {code(error.example)}")
    return {"response_type": "ephemeral", "text": error.problem, "blocks": [section("\n".join(lines))]}
