"""The files an operator deploys with: the systemd unit, the licence and the changelog."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "accessbot.service"


def unit_here(folder: Path) -> Path:
    """The unit as installed on this machine: ExecStart runs this checkout's accessbot."""
    installed = Path(sys.executable).parent / "accessbot"
    assert installed.exists(), "the test command installs the project, and with it the accessbot command"
    text = UNIT.read_text().replace("/opt/accessbot/bin/accessbot", str(installed))
    path = folder / "accessbot.service"
    path.write_text(text)
    return path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(unit_here(tmp_path))], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 on an unknown key and only says so: any word from it is a problem.
    assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), checked.stdout + checked.stderr


def test_the_unit_starts_serve_with_options_serve_takes() -> None:
    start = re.search(r"^ExecStart=(\S+) (.*)$", UNIT.read_text(), re.MULTILINE)
    assert start is not None and start.group(1) == "/opt/accessbot/bin/accessbot"
    arguments = start.group(2).split()
    checked = subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and arguments[0] == "serve", checked.stderr
    # SIGTERM to the front alone: it lets its worker finish what was answered (tests/e2e/test_serve.py).
    assert "KillMode=mixed" in UNIT.read_text()
    # Status 2 is a setting to fix; restarting would only repeat the line.
    assert "RestartPreventExitStatus=2" in UNIT.read_text()


def test_a_licence_and_a_changelog_entry_for_the_version_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and "MIT License" in (ROOT / "LICENSE").read_text()
    version = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout.split()[-1]
    assert version == project["version"]
    assert f"\n## {version} - " in (ROOT / "CHANGELOG.md").read_text()
