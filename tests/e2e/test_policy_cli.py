"""`accessbot policy check` and `accessbot policy explain`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

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
