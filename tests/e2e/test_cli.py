"""The admin commands read the same database and platforms the bot uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from domain.access import AccessState
from handlers import ids
from tests.e2e.conftest import RunningBot, environment_without_settings
from tests.fresh import printed

ANA = "ana@agency.example"


def point_cli_at(bot: RunningBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "cli.yml"
    config.write_text(f"database_url: {bot.runtime.settings.database_url}\nplatforms:\n  sandbox:\n    type: sandbox\n")
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(config))


def test_requests_lists_what_was_asked_and_how_it_ended(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each command's work runs after its ack, so wait for the first card before asking again: ids follow storage.
    bot.command("alice", f"add {ANA} sandbox viewer on production reason: dashboards")
    bot.card(1)
    bot.command("alice", f"add {ANA} sandbox admin reason: curious")
    bot.card(2)
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    point_cli_at(bot, monkeypatch, tmp_path)

    assert main(["requests", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["target_email"]) for r in listed] == [(2, "pending", ANA), (1, "applied", ANA)]
    assert listed[1]["changes"][0]["after"] == {
        "member": True,
        "account_role": "Consumer",
        "scopes": {"production": "Viewer"},
    }

    assert main(["requests", "--status", "pending"]) == 0
    table = capsys.readouterr().out
    assert "    2  pending" in table and "applied" not in table


def test_access_shows_a_members_current_access(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot.platform().apply(ANA, AccessState(member=True, account_role="Analyst", scopes={"staging": "Admin"}))
    point_cli_at(bot, monkeypatch, tmp_path)
    assert main(["access", "sandbox", ANA.upper(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "email": ANA,
        "platforms": {
            "sandbox": {
                "member": True,
                "account_role": "Analyst",
                "scopes": {"staging": "Admin"},
                "baseline": None,
                "baseline_source": None,
                "grants": [],
            }
        },
    }
    assert main(["access", "sandbox", ANA]) == 0
    out = capsys.readouterr().out
    assert "sandbox: Analyst; staging: Admin" in out and "accessbot has not changed this account" in out

    bot.command("alice", f"update {ANA} sandbox viewer on production for 2h reason: review")
    bot.card(1)
    bot.click("bob", 1, ids.APPROVE)
    bot.wait_for_card(1, "applied")
    assert main(["access", "sandbox", ANA, "--json"]) == 0
    sandbox = json.loads(capsys.readouterr().out)["platforms"]["sandbox"]
    assert sandbox["baseline"] == {"member": True, "account_role": "Analyst", "scopes": {"staging": "Admin"}}
    (grant,) = sandbox["grants"]
    assert (grant["request"], grant["state"], grant["covers"], grant["permanent"]) == (
        1,
        "active",
        {"scope:production": "Viewer"},
        False,
    )
    assert grant["ends_at"] is not None
    assert main(["access", "sandbox", ANA]) == 0
    out = capsys.readouterr().out
    assert "baseline (first seen): Analyst; staging: Admin" in out
    assert "grant #1     ana@agency.example on sandbox: production: no access → Viewer; ends " in out


def test_errors_are_explained_with_exit_code_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--config", str(tmp_path / "missing.yml"), "requests"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["access", "heap", "a@b.co"]) == 2
    assert "unknown platform 'heap'; configured: sandbox" in capsys.readouterr().err
    assert main(["serve"]) == 2
    assert "run `accessbot console`" in capsys.readouterr().err


def test_serve_over_http_needs_the_signing_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-anything")
    assert main(["serve"]) == 2
    assert "SLACK_SIGNING_SECRET is not set" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxb-anything"}, "SLACK_SIGNING_SECRET is not set"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-anything", "SLACK_APP_TOKEN": "xoxb-anything"},
            "SLACK_APP_TOKEN starts with 'xoxb-', not 'xapp-'",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-anything",
                "SLACK_SIGNING_SECRET": "secret",
                "ACCESSBOT_CONFIG": str(Path(__file__).resolve().parents[2] / "accessbot.example.yml"),
            },
            "the config still names the example's placeholder id(s) U0123APPROVER (platforms.sandbox.approvers)",
        ),
    ],
    ids=["no-token", "no-signing-secret", "bot-token-as-app-token", "example-placeholders"],
)
def test_serve_refuses_a_missing_setting_in_one_line_from_every_process(
    tmp_path: Path, environment: dict[str, str], says: str
) -> None:
    """serve is two processes: the worker must not start (and print its own traceback) on a config the front refuses."""
    finished = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0"],
        env=environment_without_settings(**environment),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [finished.stderr.strip()], finished.stderr
    assert says in finished.stderr and "Traceback" not in finished.stderr + finished.stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "--port", "99999"], "99999 is not a port: use 1 to 65535"),
        (["serve", "--port", "http"], "'http' is not a port number"),
        (["--log-level", "LOUD", "requests"], "invalid choice: 'LOUD'"),
    ],
)
def test_a_bad_option_is_refused_with_what_to_use(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert says in error and "Traceback" not in error


def test_version_and_log_level_in_any_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("accessbot ")
    monkeypatch.delenv("ACCESSBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # its database is created here
    assert main(["--log-level", "debug", "db", "upgrade"]) == 0


def test_an_unknown_console_user_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["console", "--as", "zed"]) == 2
    assert capsys.readouterr().err.strip() == (
        "accessbot: unknown console user 'zed'; choose one of alice, bob, carol, dan (--as)"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite:///{tmp}/no-such-folder/bot.db", "unable to open database file. Check that its folder exists"),
        ("postgresql+psycopg://bot:secret@127.0.0.1:1/accessbot", "Check that the server runs"),
    ],
    ids=["sqlite-folder-missing", "postgresql-refused"],
)
@pytest.mark.parametrize("command", [["requests"], ["db", "status"]])
def test_a_database_that_cannot_be_used_is_one_line_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    says: str,
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCESSBOT_DATABASE_URL", url.format(tmp=tmp_path))
    assert main(command) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("accessbot: cannot use the database at ") and says in error
    assert "secret" not in error and "Traceback" not in error


def test_help_and_version_load_no_database_layer_settings_or_slack() -> None:
    """`accessbot --help` answers at once: what it prints needs none of the heavy packages (see
    benchmarks/cli_start.py for the time it takes)."""
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'pydantic_settings', 'slack_bolt', 'slack_sdk', 'httpx', 'alembic')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    assert printed(probe) == "[]"


def test_serve_starts_its_worker_before_loading_the_bot() -> None:
    """serve starts its worker process first, so that the worker loads its code while the front loads its own: the
    front gets there having loaded none of the heavy packages (they took 0.6 s, by which the worker started late)."""
    probe = (
        "import sys\n"
        "import bot.cli\n"
        "from bot.worker import Worker\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'pydantic', 'slack_bolt', 'slack_sdk', 'httpx', 'bot.settings')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    assert printed(probe) == "[]"


def test_every_command_and_option_says_what_it_is_for() -> None:
    import argparse

    from bot.cli import build_parser

    silent: list[str] = []

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                described = {choice.dest for choice in action._choices_actions if choice.help}
                silent.extend(f"{parser.prog} {name}" for name in action.choices if name not in described)
                for sub in action.choices.values():
                    walk(sub)
            elif not action.help:
                silent.append(f"{parser.prog} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser())
    assert silent == []
