"""The Heap client against a real scim2-server playing Heap: teams as groups, the role as a user attribute."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.access import AccessState
from domain.rate_limits import burst
from platforms.base import Platform, PlatformRefused
from platforms.heap import HeapPlatform
from platforms.http import describe_rate
from platforms.settings import HeapSettings
from tests.platforms.contract import PlatformContract, fresh_email
from tests.scim_server import HEAP_EXTENSION, ScimServer, running

TEAMS = {
    "production": {"Admin": "Prod admins", "Contributor": "Prod contributors", "Viewer": "Prod viewers"},
    "staging": {"Admin": "Staging admins", "Viewer": "Staging viewers"},
    "govern": {"Data Manager": "Govern data managers", "Viewer": "Govern viewers"},
}


@pytest.fixture(scope="module")
def server() -> Iterator[ScimServer]:
    with running(TEAMS, heap_extension=True) as heap:
        yield heap


def heap(server: ScimServer, **overrides: object) -> HeapPlatform:
    settings = HeapSettings.model_validate(
        {"base_url": server.url, "token": server.token, "teams": TEAMS, "rate_limit_per_minute": None, **overrides}
    )
    return HeapPlatform("heap", settings, settings.http("heap"))


class TestHeapContract(PlatformContract):
    @pytest.fixture
    def platform(self, server: ScimServer) -> Platform:
        return heap(server)


class TestHeapWithARoleExtensionContract(PlatformContract):
    @pytest.fixture
    def platform(self, server: ScimServer) -> Platform:
        return heap(server, role_attribute=f"{HEAP_EXTENSION}:role")


def test_the_role_can_live_in_an_extension_attribute(server: ScimServer) -> None:
    platform = heap(server, role_attribute=f"{HEAP_EXTENSION}:role")
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Analyst", scopes={"govern": "Data Manager"}))
    with server.admin() as scim:
        user = scim.get("Users", params={"filter": f'userName eq "{email}"'}).json()["Resources"][0]
    assert user[HEAP_EXTENSION] == {"role": "Analyst"}
    assert platform.get_access(email).scopes == {"govern": "Data Manager"}


def test_projects_and_modules_come_from_the_teams(server: ScimServer) -> None:
    catalog = heap(server).catalog
    assert [(scope.name, scope.kind) for scope in catalog.scopes] == [
        ("production", "project"),
        ("staging", "project"),
        ("govern", "module"),
    ]
    assert catalog.account_roles == ("Admin", "Architect", "Analyst", "Consumer", "Read-Only")


def test_the_last_two_admins_cannot_be_removed_or_downgraded(tmp_path: object) -> None:
    with running() as server:
        platform = heap(server)
        first, second, third = fresh_email(), fresh_email(), fresh_email()
        for email in (first, second):
            platform.apply(email, AccessState(member=True, account_role="Admin"))
        with pytest.raises(PlatformRefused, match="would be left with 1 Admin"):
            platform.apply(first, AccessState(member=True, account_role="Analyst"))
        with pytest.raises(PlatformRefused, match="Make someone else an Admin first"):
            platform.apply(first, AccessState.absent())
        assert platform.get_access(first).account_role == "Admin"
        platform.apply(third, AccessState(member=True, account_role="Admin"))
        platform.apply(first, AccessState(member=True, account_role="Analyst"))
        assert platform.admin_count() == 2


def test_granting_admin_comes_with_a_warning(server: ScimServer) -> None:
    platform = heap(server)
    member = AccessState(member=True, account_role="Analyst")
    assert (
        "Heap Admin controls billing"
        in platform.warnings(member, member.model_copy(update={"account_role": "Admin"}))[0]
    )
    assert platform.warnings(member, member) == []


def test_heap_keeps_under_its_admin_apis_limit_by_default() -> None:
    # "Admin API: 60 requests per hour per organization" (the Heap access reference): 48 an hour, bursts of 8.
    settings = HeapSettings.model_validate({"base_url": "https://heap.example/scim/v2/", "token": "t"})
    assert settings.rate_limit_per_minute == 0.8
    assert describe_rate(0.8) == "48 requests an hour" and burst(0.8) == 8
    assert burst(0.8) + 0.8 * 60 <= 60, "no hour passes the limit, however the burst falls"
