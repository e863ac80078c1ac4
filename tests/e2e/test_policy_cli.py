"""`accessbot policy check` and `accessbot policy explain`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.console.local_slack import LocalSlack, LocalUser
from bot.settings import EXAMPLE_IDS

GOOD = """
platforms:
  sandbox:
    type: sandbox
    approvers: [U0BOB, S0SECURITY]
policy:
  security_group: S0SECURITY
  ticket_pattern: 'OPS-\\d+'
  rules:
    - name: org-admin
      match: {admin: true, level: account}
      approvals: 2
      require_one_of: [S0SECURITY]
      permanent: refuse
      max_duration: 8h
    - name: production
      match: {scopes: [production]}
      approvals: 2
  break_glass: {members: [S0ONCALL], max_duration: 2h, notify_channel: "#security"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text + f"\ndatabase_url: sqlite:///{tmp_path}/cli.db\n")
    return path


def test_check_summarises_a_valid_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(write(tmp_path, GOOD))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("policy OK")
    assert (
        "org-admin: organisation admin roles, on the account (add/update/extend/break-glass) → 2 approval(s), "
        "one from S0SECURITY, at most 8h, no permanent grants"
    ) in out
    assert "production: on production" in out
    assert "break-glass: S0ONCALL may self-approve up to 2h, 1 time(s) a day each; #security is told at once" in out
    assert "sandbox: U0BOB, S0SECURITY" in out


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ("  rules: [{name: x, match: {roles: [wizard]}}]", "policy.rules[x] names role 'wizard'"),
        ("  rules: [{name: x, match: {platforms: [heap]}}]", "policy.rules[x] names platform 'heap'"),
        ("  rules: [{name: x, match: {scopes: [prod]}}]", "names scope 'prod'"),
        ("  rules: [{name: x}, {name: x}]", "the name 'x' is used twice"),
        ("  rules: [{name: x, ticket_pattern: 'OPS-('}]", "is not a valid regular expression"),
        ("  security_group: security-team", "policy.security_group: Value error, 'security-team' is not a Slack"),
    ],
)
def test_check_explains_each_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: str, says: str) -> None:
    text = "platforms:\n  sandbox: {type: sandbox}\npolicy:\n" + policy
    assert main(["policy", "check", str(write(tmp_path, text))]) == 2
    assert says in capsys.readouterr().err


def test_explain_says_which_rules_apply_and_who_approves_without_creating_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(write(tmp_path, GOOD)))
    assert main(["policy", "explain", "add ana@agency.example sandbox admin reason: migration"]) == 0
    out = capsys.readouterr().out
    assert "rules: org-admin" in out
    assert "approvals needed: 2, from different people" in out
    assert "approvers on sandbox: U0BOB, S0SECURITY" in out
    assert "at least one approval from: S0SECURITY" in out
    assert "✗ A ticket is required" in out
    assert "✗ A permanent grant is not allowed by org-admin: ask `for 8h` or less." in out

    assert (
        main(
            ["policy", "explain", "add ana@agency.example sandbox viewer on production for 2h reason: x ticket: OPS-1"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "rules: production" in out and "would be accepted and sent for approval" in out

    assert main(["requests", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]", "explain created nothing"


def test_explain_reports_bad_input_with_the_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(write(tmp_path, GOOD)))
    assert main(["policy", "explain", "add ana@agency.example sandbox wizard reason: x"]) == 2
    assert "`wizard` is not an account role on sandbox" in capsys.readouterr().err
    assert main(["policy", "explain", "list"]) == 2
    assert "changes no access" in capsys.readouterr().err
    assert main(["policy", "explain", " "]) == 2
    assert capsys.readouterr().err.startswith("accessbot: nothing to explain: give the request as typed after /access")


EXAMPLE = Path(__file__).resolve().parents[2] / "accessbot.example.yml"


def test_the_example_configs_placeholder_ids_are_named_not_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copied = tmp_path / "accessbot.yml"
    copied.write_text(EXAMPLE.read_text() + f"\ndatabase_url: sqlite:///{tmp_path}/cli.db\n")
    assert main(["policy", "check", str(copied)]) == 2
    said = capsys.readouterr()
    assert "policy OK" not in said.out
    placeholder = "is the example config's placeholder: put a real id there"
    assert f"accessbot: U0123APPROVER (platforms.sandbox.approvers) {placeholder}" in said.err.splitlines()
    assert "accessbot: S0123SECURITY (platforms.sandbox.approvers" in said.err


def test_the_placeholder_list_is_every_id_the_example_shows() -> None:
    shown = set(re.findall(r"\b[USW]0[0-9A-Z]{4,}\b", EXAMPLE.read_text()))
    assert shown == set(EXAMPLE_IDS)


CHECKED = """
platforms:
  sandbox: {type: sandbox, approvers: [U0BOB, S0SECURITY]}
policy:
  rules: [{name: everything, approvers: [U0CAROL, U0GONE], require_one_of: [S0SECRUITY]}]
"""


def test_with_a_bot_token_each_id_is_asked_of_slack_and_the_unknown_ones_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalSlack(
        bot_token="xoxb-check",
        users=[LocalUser("U0BOB", "bob", "bob@client.example"), LocalUser("U0CAROL", "carol", "carol@client.example")],
        usergroups={"S0SECURITY": ["U0CAROL"]},
    ) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-check")
        monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        assert main(["policy", "check", str(write(tmp_path, CHECKED))]) == 2
        assert capsys.readouterr().err.splitlines() == [
            "accessbot: U0GONE (policy.rules[everything].approvers): Slack answered user_not_found",
            "accessbot: S0SECRUITY (policy.rules[everything].require_one_of): Slack answered no_such_subteam",
        ]
        assert main(["policy", "check", str(write(tmp_path, GOOD.replace("S0ONCALL", "U0BOB")))]) == 0
        assert capsys.readouterr().out.rstrip().endswith("Slack ids: 2 named, each known to Slack")
        asked = {call.params.get("user") or call.params.get("usergroup") for call in slack.calls}
        assert asked >= {"U0BOB", "S0SECURITY", "U0GONE", "S0SECRUITY"}


def test_slack_unreachable_while_checking_ids_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-check")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    assert main(["policy", "check", str(write(tmp_path, GOOD))]) == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith("accessbot: could not ask Slack at http://127.0.0.1:9/api/ about the ids")
    assert len(said.splitlines()) == 1


LIMITED = """
platforms:
  sandbox:
    type: sandbox
    approvers: [U0BOB]
    role_max_duration: {Admin: 8h}
policy:
  rules: [{name: everything}]
"""


def test_explain_refuses_what_submit_refuses_for_the_platforms_duration_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.bootstrap import build_services
    from bot.offline import NoSlack
    from bot.settings import load_settings
    from domain.commands import GrantCommand, parse_command
    from services.context import RequestRefused
    from services.ports import Person
    from services.submit import submit

    text = "update ana@agency.example sandbox admin for 10h reason: migration"
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(write(tmp_path, LIMITED)))
    assert main(["policy", "explain", text]) == 0
    explained = capsys.readouterr().out
    assert "would be refused:" in explained, explained

    services = build_services(load_settings(), directory=NoSlack(), notifier=NoSlack())
    services.platforms["sandbox"].apply(
        "ana@agency.example",
        services.platforms["sandbox"]
        .get_access("ana@agency.example")
        .model_copy(update={"member": True, "account_role": "Consumer"}),
    )
    command = parse_command(text, services.catalogs)
    assert isinstance(command, GrantCommand)
    with pytest.raises(RequestRefused) as refused:
        submit(services, command, requester=Person(slack_id="U0ALICE"), target_email="ana@agency.example")
    assert f"✗ {refused.value}" in explained, "one evaluation, one answer"
