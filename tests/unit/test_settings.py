from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings
from domain.access import RemovalMethod


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accessbot.yml"
    path.write_text(text)
    return path


def test_without_a_file_the_embedded_defaults_run_the_sandbox_on_sqlite() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///accessbot.db"
    assert list(settings.platforms) == ["sandbox"]
    assert settings.platforms["sandbox"].catalog().account_roles[0] == "Admin"
    assert settings.slack_bot_token is None


def test_worker_processes_are_one_on_sqlite_and_one_per_core_up_to_four_on_postgresql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().workers() == 1
    monkeypatch.setenv("ACCESSBOT_DATABASE_URL", "postgresql+psycopg://bot@db.internal/accessbot")
    postgres = load_settings()
    assert [postgres.workers(cores=cores) for cores in (1, 2, 3, 16)] == [1, 2, 3, 4]
    monkeypatch.setenv("ACCESSBOT_WORKER_PROCESSES", "1")
    assert load_settings().workers(cores=16) == 1, "a number set is kept"
    for wrong in ("9", "0", "many", "2.5"):
        monkeypatch.setenv("ACCESSBOT_WORKER_PROCESSES", wrong)
        with pytest.raises(ConfigError) as refused:
            load_settings()
        assert "1 problem" in str(refused.value), "one line for the setting, not one per branch of its type"
        assert (
            f"worker_processes: Value error, '{wrong}' is not a number of worker processes: give 1 to 8, or auto"
            in (str(refused.value))
        )


def test_a_file_configures_platforms_and_policy(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
approvals_channel: C0APPROVALS
platforms:
  heap-sandbox:
    type: sandbox
    label: Heap (staging account)
    approvers: [U0BOB, S0SECURITY]
    max_duration: 30d
    role_max_duration: {admin: 8h}
    removal_method: revoke
    projects: [web, ios]
""",
    )
    settings = load_settings(path)
    platform = settings.platforms["heap-sandbox"]
    assert settings.approvals_channel == "C0APPROVALS"
    assert platform.approvers == ("U0BOB", "S0SECURITY")
    assert platform.max_duration == timedelta(days=30)
    assert platform.role_max_duration == {"admin": timedelta(hours=8)}
    assert platform.removal_method is RemovalMethod.REVOKE
    assert [scope.name for scope in platform.catalog().scopes][:2] == ["web", "ios"]


def test_the_environment_wins_over_the_file_and_the_file_is_found_through_accessbot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "database_url: sqlite:///from-file.db\napprovals_channel: C1\n")
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(path))
    monkeypatch.setenv("ACCESSBOT_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    settings = load_settings()
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.approvals_channel == "C1"
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == "xoxb-from-env"


def test_values_can_name_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVALS", "C0FROMENV")
    assert load_settings(write(tmp_path, "approvals_channel: ${APPROVALS}\n")).approvals_channel == "C0FROMENV"


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-very-secret")
    settings = load_settings()
    for shown in (repr(settings), str(settings), str(settings.redacted())):
        assert "very-secret" not in shown


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("approvals_channel: ${NOT_SET_ANYWHERE}\n", "environment variable NOT_SET_ANYWHERE is not set"),
        ("platforms: [unclosed\n", "is not valid YAML"),
        ("- a list\n", "must be a mapping of settings"),
        ("platforms:\n  Heap:\n    type: sandbox\n", "platform name 'Heap' must be lowercase"),
        ("platforms:\n  all:\n    type: sandbox\n", "(and not `all`)"),
        ("platforms: {}\n", "configure at least one platform"),
        ("approval_channel: C1\n", "approval_channel: unknown setting; did you mean `approvals_channel`?"),
        (
            "platforms:\n  x:\n    type: sandbox\n    approver: [U1]\n",
            "x.approver: unknown setting; did you mean `approvers`",
        ),
        ("platforms:\n  x:\n    type: sandbox\n    max_duraton: 2h\n", "did you mean `max_duration`?"),
        ("platforms:\n  x:\n    type: sandbox\n    removal_metod: revoke\n", "did you mean `removal_method`?"),
        ("elevations:\n  lease_second: 5\n", "elevations.lease_second: unknown setting; did you mean `lease_seconds`?"),
        ("platforms:\n  x:\n    type: sandbox\n    colour: blue\n", "platforms.x.colour: unknown setting\n"),
        (
            "policy:\n  guard_rails: {max_org_admins: 1, min_admins: 5}\n",
            "min_admins (5) is more than max_org_admins (1): no number of admins would satisfy both",
        ),
        (
            "policy:\n  rules:\n    - name: x\n      match: {on: account}\n",
            "under policy.rules[0].match, a key reads as true",
        ),
        ("platforms:\n  x:\n    type: salesforce\n", "does not match any of the expected tags: 'sandbox', 'scim'"),
        ("platforms:\n  x:\n    type: sandbox\n    max_duration: forever\n", "platforms.x.max_duration: Value error"),
        ("platforms:\n  x:\n    type: sandbox\n    max_duration: forever\n", "use 30m, 4h"),
        (
            "platforms:\n  x:\n    type: heap\n    base_url: https://h.example/scim/v2\n",
            "token is missing: SCIM needs both base_url and token; give neither (or mode: manual)",
        ),
        ("platforms:\n  x:\n    type: heap\n    mode: scim\n", "mode scim needs base_url (the account's SCIM URL)"),
        (
            "platforms:\n  x:\n    type: heap\n    teams: {production: {Admin: Prod admins}}\n",
            "teams map Heap teams to SCIM groups, which manual mode does not use",
        ),
        ("platforms:\n  x:\n    type: scim\n    base_url: https://s.example/v2\n", "give a bearer `token`"),
        (
            "platforms:\n  x:\n    type: sandbox\n    role_max_duration: {wizard: 1h}\n",
            "names 'wizard', which is not a role",
        ),
    ],
)
def test_config_errors_say_what_is_wrong_and_where(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert says in str(caught.value)


def test_a_config_file_named_but_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yml")


def test_the_example_config_is_valid() -> None:
    settings = load_settings(Path(__file__).resolve().parents[2] / "accessbot.example.yml")
    assert settings.platforms["sandbox"].approvers == ("U0123APPROVER", "S0123SECURITY")
    assert settings.platforms["sandbox"].role_max_duration == {"admin": timedelta(hours=8)}
    assert settings.elevations.reminders == (timedelta(hours=24), timedelta(hours=1))
    assert settings.elevations.escalate_after == 3


def test_the_commented_platform_examples_are_valid_once_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = (Path(__file__).resolve().parents[2] / "accessbot.example.yml").read_text()
    # Commented settings are `  # key:` or deeper; prose comments start with a capital letter and stay comments.
    uncommented = re.sub(r"(?m)^  # (?=[a-z_ ])", "  ", example)
    for variable in ("HEAP_SCIM_TOKEN", "CHARTBEAT_OWNER_PASSWORD", "CRM_SCIM_TOKEN"):
        monkeypatch.setenv(variable, "secret")
    path = tmp_path / "full.yml"
    path.write_text(uncommented)
    settings = load_settings(path)
    assert list(settings.platforms) == ["sandbox", "heap", "chartbeat", "crm"]
    heap = settings.platforms["heap"].catalog()
    assert [scope.name for scope in heap.scopes] == ["production", "staging", "govern"]
    assert settings.platforms["chartbeat"].catalog().scopes[-1].kind == "site group"
    assert [rule.name for rule in settings.policy.effective_rules] == ["org-admin", "production"]
    assert settings.policy.break_glass.members == ("S0123ONCALL",)
    assert not settings.policy.people.same("bob+ops@legacy.example", "bob@legacy.example")
    assert "compromis" in settings.removals.security_words
