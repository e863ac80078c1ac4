"""`accessbot platforms check` and `accessbot access` against real SCIM servers playing Heap and Chartbeat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.scim_server import ScimServer, running

OWNER = ("owner@client.example", "owner-password")
TEAMS = {"production": {"Admin": "Prod admins", "Viewer": "Prod viewers"}}


@pytest.fixture
def heap() -> Iterator[ScimServer]:
    with running(TEAMS) as server:
        yield server


@pytest.fixture
def chartbeat() -> Iterator[ScimServer]:
    with running(token=None, basic=OWNER) as server:
        yield server


def configure(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    heap: ScimServer,
    chartbeat: ScimServer,
    *,
    heap_token: str | None = None,
    teams: dict | None = None,
) -> None:
    monkeypatch.setenv("HEAP_SCIM_TOKEN", heap_token or str(heap.token))
    config = {
        "database_url": f"sqlite:///{tmp_path}/cli.db",
        "platforms": {
            "heap": {
                "type": "heap",
                "base_url": heap.url,
                "token": "${HEAP_SCIM_TOKEN}",
                "teams": teams or TEAMS,
                "rate_limit_per_minute": None,
            },
            "chartbeat": {
                "type": "chartbeat",
                "base_url": chartbeat.url,
                "username": OWNER[0],
                "password": OWNER[1],
                "sites": ["example.com"],
            },
            "sandbox": {"type": "sandbox"},
        },
    }
    path = tmp_path / "accessbot.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(path))


def test_platforms_check_reports_every_platform_ready(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    heap: ScimServer,
    chartbeat: ScimServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(tmp_path, monkeypatch, heap, chartbeat)
    assert main(["platforms", "check"]) == 0
    out = capsys.readouterr().out
    assert "OK    heap (heap): reachable, credentials accepted; 0 users, 2 mapped groups" in out
    assert "· 0 Admin(s): fewer than the 2 the bot keeps" in out
    assert "OK    chartbeat (chartbeat): reachable, credentials accepted" in out
    assert "· roles and site access: manual steps (no API)" in out
    assert "OK    sandbox (sandbox): reachable; 0 members" in out
    assert "3 of 3 platform(s) ready" in out


def test_platforms_check_says_which_credentials_to_fix_and_never_prints_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    heap: ScimServer,
    chartbeat: ScimServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(tmp_path, monkeypatch, heap, chartbeat, heap_token="revoked-secret-token")
    assert main(["platforms", "check", "--json"]) == 1
    checks = {check["platform"]: check for check in json.loads(capsys.readouterr().out)}
    assert checks["heap"]["ok"] is False
    assert "refused our credentials" in checks["heap"]["summary"]
    assert "check platforms.heap.token" in checks["heap"]["summary"]
    assert checks["chartbeat"]["ok"] is True
    assert "revoked-secret-token" not in json.dumps(checks)


def test_platforms_check_finds_a_team_missing_on_the_platform(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    heap: ScimServer,
    chartbeat: ScimServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(tmp_path, monkeypatch, heap, chartbeat, teams={"staging": {"Admin": "Staging admins"}})
    assert main(["platforms", "check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  heap (heap)" in out and "✗ group 'Staging admins' from the config does not exist" in out
    assert "2 of 3 platform(s) ready; 1 need attention" in out


def test_access_shows_what_someone_has_on_heap(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    heap: ScimServer,
    chartbeat: ScimServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(tmp_path, monkeypatch, heap, chartbeat)
    user = heap.create_user("ana@agency.example", roles=[{"value": "Analyst", "primary": True}])
    group = heap.create_group("Unmapped team")
    with heap.admin() as scim:
        prod = scim.get("Groups", params={"filter": 'displayName eq "Prod viewers"'}).json()["Resources"][0]["id"]
        for target in (prod, group):
            scim.patch(
                f"Groups/{target}",
                json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}],
                },
            ).raise_for_status()
    assert main(["access", "heap", "Ana@agency.example", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["platforms"]["heap"] == {
        "member": True,
        "account_role": "Analyst",
        "scopes": {"production": "Viewer"},
        "baseline": None,
        "baseline_source": None,
        "grants": [],
    }
    assert main(["access", "heap", "nobody@agency.example"]) == 0
    assert "heap: not a member" in capsys.readouterr().out


def test_platforms_check_write_proves_the_write_path_on_a_probe_and_leaves_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    heap: ScimServer,
    chartbeat: ScimServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(tmp_path, monkeypatch, heap, chartbeat)
    probe = "probe-1@example.invalid"
    assert main(["platforms", "check", "--write", "--probe-email", probe]) == 0
    out = capsys.readouterr().out
    for step in ("create a user", "set its role", "join Prod admins", "leave Prod admins", "remove it"):
        assert f"✓ proven  {step}: read back" in out, step
    assert f"✓ proven  leave nothing behind: {probe} is gone" in out
    assert "? assumed write path: chartbeat has no write probe" in out
    with heap.admin() as admin:
        assert admin.get("Users", params={"filter": f'userName eq "{probe}"'}).json()["totalResults"] == 0


def test_platforms_check_write_names_the_step_that_fails_and_still_removes_the_probe(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    heap: ScimServer,
    chartbeat: ScimServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(tmp_path, monkeypatch, heap, chartbeat)
    heap.fail("PATCH", "/Groups/", 403, times=10)  # the token may change users but not groups
    probe = "probe-2@example.invalid"
    assert main(["platforms", "check", "--write", "--probe-email", probe]) == 1
    out = capsys.readouterr().out
    assert "✓ proven  set its role" in out
    assert "✗ missing join Prod admins: the platform refused our credentials" in out
    assert "→ give the bot's credentials write access to Users and Groups" in out
    assert f"✓ proven  leave nothing behind: {probe} is gone" in out
