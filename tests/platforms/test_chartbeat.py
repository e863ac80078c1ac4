"""The Chartbeat client: accounts over SCIM with HTTP Basic (a real scim2-server), role and sites by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.access import AccessState, RemovalMethod, StepKind
from platforms.base import ApplyResult, Platform, PlatformAuthError
from platforms.chartbeat import ChartbeatPlatform
from platforms.settings import ChartbeatSettings
from storage.db import make_engine
from storage.schema import ensure_schema
from tests.platforms.contract import PlatformContract, fresh_email
from tests.scim_server import ScimServer, running

OWNER = ("owner@client.example", "owner-password")


@pytest.fixture(scope="module")
def server() -> Iterator[ScimServer]:
    with running(token=None, basic=OWNER) as chartbeat:
        yield chartbeat


def chartbeat(server: ScimServer, tmp_path: Path, **overrides: object) -> ChartbeatPlatform:
    settings = ChartbeatSettings.model_validate(
        {
            "base_url": server.url,
            "username": OWNER[0],
            "password": OWNER[1],
            "sites": ["example.com", "news.example.com"],
            # Chartbeat's real limit (200/min) stays in production; the limiter has a test of its own.
            "rate_limit_per_minute": 60_000,
            **overrides,
        }
    )
    engine = make_engine(f"sqlite:///{tmp_path}/ledger.db")
    ensure_schema(engine)
    return ChartbeatPlatform(
        "chartbeat", settings, settings.http("chartbeat"), engine=engine, now=lambda: datetime.now(UTC)
    )


class TestChartbeatContract(PlatformContract):
    @pytest.fixture
    def platform(self, server: ScimServer, tmp_path: Path) -> Platform:
        return chartbeat(server, tmp_path)

    def settle(self, platform: Platform, email: str, result: ApplyResult) -> None:
        for step in result.manual:
            platform.record_manual(email, step, actor="UADMIN")


def test_the_account_is_made_over_scim_and_role_and_sites_are_manual_steps(server: ScimServer, tmp_path: Path) -> None:
    platform = chartbeat(server, tmp_path)
    email = fresh_email()
    result = platform.apply(email, AccessState(member=True, account_role="Admin", scopes={"example.com": "Access"}))
    assert [step.kind for step in result.applied] == [StepKind.CREATE_MEMBER]
    assert [(step.kind, step.scope) for step in result.manual] == [
        (StepKind.SET_ACCOUNT_ROLE, None),
        (StepKind.SET_SCOPE_ROLE, "example.com"),
    ]
    assert all(step.manual for step in result.manual)
    assert result.manual[0].instructions == (
        f"In Chartbeat, open Settings → Users (https://chartbeat.com/publishing/settings/users/) and click {email}. "
        "Set Role to Admin, then Save Changes."
    )
    assert "check example.com" in (result.manual[1].instructions or "")
    # Until an admin says it is done, the bot does not claim the role or the site.
    assert platform.get_access(email) == AccessState(member=True)


def test_revoking_asks_for_the_lowest_role_and_every_site_unchecked(server: ScimServer, tmp_path: Path) -> None:
    platform = chartbeat(server, tmp_path)
    email = fresh_email()
    granted = AccessState(
        member=True, account_role="Admin", scopes={"example.com": "Access", "news.example.com": "Access"}
    )
    for step in platform.apply(email, granted).manual:
        platform.record_manual(email, step, actor="UADMIN")
    result = platform.remove(email, RemovalMethod.REVOKE)
    assert result.applied == ()
    assert sorted(step.describe() for step in result.manual) == [
        "account role Admin → Member (manual)",
        "example.com: Access → no access (manual)",
        "news.example.com: Access → no access (manual)",
    ]
    assert "uncheck news.example.com (and any site group that includes it)" in (result.manual[-1].instructions or "")


def test_deleting_is_done_over_scim_and_forgets_the_record(server: ScimServer, tmp_path: Path) -> None:
    platform = chartbeat(server, tmp_path)
    email = fresh_email()
    for step in platform.apply(email, AccessState(member=True, account_role="Admin")).manual:
        platform.record_manual(email, step, actor="UADMIN")
    result = platform.remove(email, RemovalMethod.DELETE)
    assert [step.kind for step in result.applied] == [StepKind.DELETE_MEMBER] and result.manual == ()
    assert platform.get_access(email) == AccessState.absent()
    assert server.count("DELETE", "/Users/") >= 1


def test_the_owner_login_is_checked_and_not_leaked(server: ScimServer, tmp_path: Path) -> None:
    platform = chartbeat(server, tmp_path, password="not-the-password")
    with pytest.raises(PlatformAuthError) as caught:
        platform.get_access(fresh_email())
    assert "check platforms.chartbeat.username/password" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_chartbeat_defaults_to_its_documented_endpoint_and_rate_limit() -> None:
    settings = ChartbeatSettings(username="owner@client.example", password="x")
    assert settings.base_url == "https://chartbeat.com/scim/v2/"
    assert settings.rate_limit_per_minute == 200
