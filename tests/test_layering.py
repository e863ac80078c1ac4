"""The layering the README describes, pinned: which package may import which, and where Slack may appear.

Data flows one way (Slack payload -> handlers -> services -> platforms -> storage -> Slack message); `domain` is pure
and `bot` is the one composition root that may wire everything together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("bot", "domain", "handlers", "platforms", "services", "storage")

# Which of the project's packages each one may import (itself always).
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "storage": {"domain"},
    "platforms": {"domain", "storage"},
    "services": {"domain", "platforms", "storage"},
    "handlers": {"domain", "services", "storage"},
    "bot": {"domain", "handlers", "platforms", "services", "storage"},
}

# Third-party modules that speak Slack, and where they may be imported.
SLACK_MODULES = ("slack_bolt", "slack_sdk")
SLACK_ALLOWED = {"handlers", "bot"}


def imports_of(path: Path) -> set[str]:
    """Top-level module names `path` imports, at module level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sources(package)
        for name in imports_of(path)
        if name in PACKAGES and name != package and name not in ALLOWED[package]
    }
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}: " + "; ".join(sorted(wrong))


@pytest.mark.parametrize("package", sorted(set(PACKAGES) - SLACK_ALLOWED))
def test_slack_is_spoken_only_in_handlers_and_the_composition_root(package: str) -> None:
    wrong = {str(path.relative_to(ROOT)) for path in sources(package) if imports_of(path) & set(SLACK_MODULES)}
    assert not wrong, f"Slack imported outside handlers/ and bot/: {sorted(wrong)}"


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    # The rule must not be dodged by a late import.
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from services.apply import run_request\n    import slack_sdk.web\n")
    assert imports_of(module) == {"services", "slack_sdk"}


# Spelled in pieces so that this file does not match itself.
OUTSIDE = ("..", "/shared"), ('parent / "', 'shared"'), ("ROOT", ".parent")


def test_nothing_in_the_checkout_reads_outside_it() -> None:
    # A clone from a repository host has nothing beside it: no test or script may reach for the folder beside it.
    patterns = ["".join(pieces) for pieces in OUTSIDE]
    offenders = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if not path.is_file() or any(part.startswith(".") or part == "node_modules" for part in relative.parts):
            continue
        if path.suffix not in {".py", ".toml", ".cfg", ".ini", ".sh", ".yml", ""}:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, PermissionError):
            continue
        offenders += [f"{relative}: {pattern}" for pattern in patterns if pattern in text]
    assert not offenders, offenders
