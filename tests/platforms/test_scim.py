"""The SCIM client against a real scim2-server on a loopback port: the contract, then the faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from domain.access import AccessState, StepKind
from platforms.base import (
    MemberNotFound,
    Platform,
    PlatformAuthError,
    PlatformRefused,
    PlatformUnavailable,
    RateLimited,
)
from platforms.http import RateLimiter, RetryPolicy, retry_after_seconds
from platforms.scim import ScimPlatform
from platforms.settings import ScimSettings
from tests.platforms.contract import PlatformContract, fresh_email
from tests.scim_server import ScimServer, running

GROUPS = {
    "production": {"Admin": "app-production-admins", "Viewer": "app-production-viewers"},
    "staging": {"Admin": "app-staging-admins", "Viewer": "app-staging-viewers"},
}


@pytest.fixture(scope="module")
def server() -> Iterator[ScimServer]:
    with running(GROUPS) as scim:
        yield scim


class Waits:
    """Stands in for time.sleep: records the waits the retry policy asks for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def settings_for(server: ScimServer, **overrides: object) -> ScimSettings:
    return ScimSettings.model_validate(
        {
            "base_url": server.url,
            "token": server.token,
            "account_roles": ["Admin", "Editor", "Member"],
            "groups": GROUPS,
            "retry": RetryPolicy(timeout_seconds=1.0, attempts=4, initial_backoff_seconds=0.1),
            **overrides,
        }
    )


def client(server: ScimServer, waits: Waits | None = None, **overrides: object) -> ScimPlatform:
    settings = settings_for(server, **overrides)
    http = settings.http("app")
    if waits is not None:
        http._sleep = waits
    return ScimPlatform("app", settings.catalog(), http, role_attribute=settings.role_attribute, groups=settings.groups)


class TestScimContract(PlatformContract):
    @pytest.fixture
    def platform(self, server: ScimServer) -> Platform:
        return client(server)


GRANT = AccessState(member=True, account_role="Editor", scopes={"production": "Viewer", "staging": "Admin"})


def test_access_is_read_from_the_user_and_the_mapped_groups(server: ScimServer) -> None:
    platform = client(server)
    email = fresh_email()
    platform.apply(email, GRANT)
    assert platform.get_access(email) == GRANT
    with server.admin() as scim:
        user = scim.get("Users", params={"filter": f'userName eq "{email}"'}).json()["Resources"][0]
    assert user["roles"] == [{"value": "Editor", "primary": True}]


def test_a_deactivated_user_is_not_a_member_and_is_reactivated_on_grant(server: ScimServer) -> None:
    platform = client(server)
    email = fresh_email()
    user_id = server.create_user(email, roles=[{"value": "Member", "primary": True}])
    server.patch_user(user_id, "active", False)
    assert platform.get_access(email) == AccessState.absent()
    platform.apply(email, AccessState(member=True, account_role="Member"))
    assert platform.get_access(email) == AccessState(member=True, account_role="Member")


def test_groups_the_config_does_not_map_are_left_alone(server: ScimServer) -> None:
    platform = client(server)
    email = fresh_email()
    platform.apply(email, GRANT)
    other = server.create_group(f"unmanaged-{email}")
    user = platform.find_user(email)
    assert user is not None
    with server.admin() as scim:
        scim.patch(
            f"Groups/{other}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": user.id}]}],
            },
        ).raise_for_status()
    platform.apply(email, AccessState(member=True, account_role="Member"))
    with server.admin() as scim:
        members = scim.get(f"Groups/{other}").json().get("members", [])
    assert [member["value"] for member in members] == [user.id]


# --- faults ----------------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out(server: ScimServer) -> None:
    waits = Waits()
    server.fail("GET", "/Users", 429, headers={"Retry-After": "2"})
    assert client(server, waits).get_access(fresh_email()) == AccessState.absent()
    assert waits.waits == [2.0]


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("²") is None, "a digit to str.isdigit(), but not a number"


def test_a_500_then_success_is_retried_with_growing_backoff(server: ScimServer) -> None:
    waits = Waits()
    server.fail("GET", "/Users", 503, times=2)
    assert client(server, waits).get_access(fresh_email()) == AccessState.absent()
    assert len(waits.waits) == 2
    assert 0.05 <= waits.waits[0] <= 0.1 and 0.1 <= waits.waits[1] <= 0.2


def test_persistent_rate_limiting_gives_up_with_a_typed_error(server: ScimServer) -> None:
    waits = Waits()
    server.fail("GET", "/Users", 429, headers={"Retry-After": "1"}, times=10)
    with pytest.raises(RateLimited) as caught:
        client(server, waits).get_access(fresh_email())
    assert "gave up after 4 attempts" in str(caught.value)
    assert caught.value.retryable
    server.faults.clear()


def test_total_wait_is_capped(server: ScimServer) -> None:
    waits = Waits()
    server.fail("GET", "/Users", 429, headers={"Retry-After": "45"}, times=3)
    with pytest.raises(RateLimited):
        client(server, waits, retry=RetryPolicy(attempts=5, max_total_wait_seconds=60)).get_access(fresh_email())
    assert waits.waits == [45.0], "a second 45 s wait would pass the 60 s cap"
    server.faults.clear()


def test_a_timeout_is_retried_and_then_reported(server: ScimServer) -> None:
    waits = Waits()
    server.fail("GET", "/Users", None, delay=1.5, times=4)
    with pytest.raises(PlatformUnavailable) as caught:
        client(server, waits, retry=RetryPolicy(timeout_seconds=0.3, attempts=2)).get_access(fresh_email())
    assert "timed out after 0.3 s" in str(caught.value)
    server.faults.clear()


def test_a_401_names_the_platform_and_what_to_check_and_never_the_secret(server: ScimServer) -> None:
    with pytest.raises(PlatformAuthError) as caught:
        client(server, token="wrong-secret-token").get_access(fresh_email())
    message = str(caught.value)
    assert message.startswith("app: the platform refused our credentials")
    assert "check platforms.app.token in the config" in message
    assert "wrong-secret-token" not in message and server.token not in message
    assert caught.value.retryable is False


def test_409_on_create_reuses_the_existing_account(server: ScimServer) -> None:
    """The first create succeeds but its answer is lost to a timeout; the retry meets a 409 and reuses the account."""
    waits = Waits()
    platform = client(server, waits, retry=RetryPolicy(timeout_seconds=0.5, attempts=3, initial_backoff_seconds=0))
    email = fresh_email()
    server.fail("POST", "/Users", None, delay=1.0, late=True)
    result = platform.apply(email, AccessState(member=True, account_role="Editor"))
    assert any("already existed" in response and "reused it" in response for response in result.responses)
    assert platform.get_access(email) == AccessState(member=True, account_role="Editor")
    with server.admin() as scim:
        found = scim.get("Users", params={"filter": f'userName eq "{email}"'}).json()
    assert found["totalResults"] == 1
    assert server.count("POST", "/Users") >= 2


def test_a_failure_halfway_through_a_multi_group_change_says_what_was_done_and_a_retry_converges(
    server: ScimServer,
) -> None:
    platform = client(server)
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Member"))
    server.fail("PATCH", "/Groups/", 400, times=1)  # the first group change fails, for good
    target = AccessState(member=True, account_role="Editor", scopes={"production": "Viewer", "staging": "Admin"})
    with pytest.raises(PlatformRefused) as caught:
        platform.apply(email, target)
    assert [step.kind for step in caught.value.applied] == [StepKind.SET_ACCOUNT_ROLE]
    assert sorted(step.scope for step in caught.value.pending if step.scope) == ["production", "staging"]
    assert platform.get_access(email) == AccessState(member=True, account_role="Editor")
    platform.apply(email, target)
    assert platform.get_access(email) == target


def test_a_missing_group_is_refused_with_the_fix(server: ScimServer) -> None:
    platform = client(server, groups={"qa": {"Viewer": "no-such-group"}})
    with pytest.raises(PlatformRefused, match=r"create it on the platform or fix platforms\.app\.groups"):
        platform.apply(fresh_email(), AccessState(member=True, account_role="Member", scopes={"qa": "Viewer"}))


def test_deleting_someone_already_gone_is_done(server: ScimServer) -> None:
    platform = client(server)
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Member"))
    user = platform.find_user(email)
    assert user is not None
    with server.admin() as scim:
        scim.delete(f"Users/{user.id}")
    platform._delete_user(str(user.id))
    with pytest.raises(MemberNotFound):
        platform.http.request("GET", f"Users/{user.id}")


def test_the_rate_limiter_spaces_requests_out() -> None:
    now = [0.0]
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(60, clock=lambda: now[0], sleep=sleep)  # one a second, bursts of five
    for _ in range(5):
        assert limiter.acquire() == 0
    assert limiter.acquire() == pytest.approx(1.0)
    assert sum(waited) == pytest.approx(1.0)


def test_secrets_never_reach_the_logs_even_at_debug(server: ScimServer, caplog: pytest.LogCaptureFixture) -> None:
    waits = Waits()
    server.fail("GET", "/Users", 503, times=1)
    with caplog.at_level("DEBUG"):
        client(server, waits).get_access(fresh_email())
        with pytest.raises(PlatformAuthError):
            client(server, token="another-secret-value").get_access(fresh_email())
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "retrying in" in logged, "the retry was logged"
    assert server.token not in logged and "another-secret-value" not in logged
    assert "Bearer" not in logged
