"""What people typed cannot act on whoever reads it: CSV cells a spreadsheet would run as formulas, and terminal
escape sequences in what the command line and the console print."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.console.repl import Console
from bot.exports import write_audit_csv, write_members_csv
from bot.settings import Settings
from domain.access import AccessState
from platforms.base import MemberRecord
from storage.models import AuditEvent
from tests.e2e.conftest import environment_without_settings

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def test_csv_cells_that_would_be_formulas_are_neutralised() -> None:
    members = [
        MemberRecord(
            email='=HYPERLINK("http://evil.example")@x.example',
            access=AccessState(member=True, account_role="@SUM(A1)"),
        )
    ]
    out = io.StringIO()
    write_members_csv("heap", members, out, exported_at=NOW)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["email"] == '\'=HYPERLINK("http://evil.example")@x.example' and row["account_role"] == "'@SUM(A1)"

    event = AuditEvent(
        seq=1,
        id=1,
        at=NOW,
        event="requested",
        actor="+cmd|' /C calc'!A0",
        target_email="-2+3@x.example",
        detail={"reason": "=1+1"},
        prev_hash="0" * 64,
        hash="1" * 64,
    )
    out = io.StringIO()
    write_audit_csv([event], out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["actor"].startswith("'+") and row["target_email"].startswith("'-")
    assert row["detail"].startswith("{"), "JSON is not a formula and stays exact"


def test_a_reason_with_escape_sequences_prints_as_text_in_the_console_and_the_command_line(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/bot.db"
    out = io.StringIO()
    with Console(Settings(database_url=database), out=out) as console:
        console.run(
            ["/access add dan@agency.example sandbox viewer on production reason: \x1b[2J\x1b]0;pwned\x07 demo"]
        )
    shown = out.getvalue()
    assert "demo" in shown and "\x1b" not in shown and "\x07" not in shown

    listed = accessbot(tmp_path, database, "requests")
    assert listed.returncode == 0, listed.stderr
    assert "dan@agency.example" in listed.stdout and "\x1b" not in listed.stdout
    evidence = accessbot(tmp_path, database, "evidence", "1")
    assert evidence.returncode == 0, evidence.stderr
    assert "demo" in evidence.stdout and "\x1b" not in evidence.stdout and "\x07" not in evidence.stdout


def accessbot(folder: Path, database: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The command line on this database, as a terminal runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *arguments],
        env=environment_without_settings(ACCESSBOT_DATABASE_URL=database),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
