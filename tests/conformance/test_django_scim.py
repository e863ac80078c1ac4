"""The SCIM client's contract against django-scim2 (0.23), run as a small Django project on a loopback port.

django-scim2 differs from RFC 7643/7644 in ways real deployments meet: it says filtering is not supported and yet
answers a userName filter, answers a Group filter with nothing at all (no error), has no roles attribute, refuses
RFC 7644's filtered member removal (501) and takes the member in `value` instead. The client adapts to each.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.access import AccessState
from platforms.base import Platform
from platforms.scim import ScimPlatform
from tests.conformance.servers import admin, client, group_members, serving
from tests.platforms.contract import PlatformContract, fresh_email

SERVER = Path(__file__).resolve().parent / "django_scim" / "server.py"
TOKEN = "django-scim-test-token"


@pytest.fixture(scope="module")
def django_scim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("django-scim") / "scim.db"
    with serving([sys.executable, str(SERVER), str(database), TOKEN], token=TOKEN) as url:
        yield url


def django_client(url: str) -> ScimPlatform:
    # django-scim2 has no roles: every account is a Member.
    return client("django", url, TOKEN, role_attribute="none", account_roles=["Member"])


class TestDjangoScimContract(PlatformContract):
    @pytest.fixture
    def platform(self, django_scim: str) -> Platform:
        return django_client(django_scim)


def test_a_filter_the_server_says_it_does_not_support_is_not_taken_for_an_answer(django_scim: str) -> None:
    with admin(django_scim, TOKEN) as scim:
        config = scim.get("ServiceProviderConfig").json()
        nothing = scim.get("Groups", params={"filter": 'displayName eq "production-viewers"'}).json()
    assert config["filter"]["supported"] is False and nothing["Resources"] == [], "what the client must not trust"
    platform = django_client(django_scim)
    group = platform.find_group("production-viewers")
    assert group is not None and group.display_name == "production-viewers"
    email = fresh_email()
    granted = AccessState(member=True, account_role="Member", scopes={"production": "Viewer", "staging": "Admin"})
    platform.apply(email, granted)
    assert platform.get_access(email) == granted, "a person's groups are read from the User, not a filter"


def test_one_member_is_removed_from_a_group_in_the_form_the_server_takes_and_nobody_else(django_scim: str) -> None:
    platform = django_client(django_scim)
    stays, leaves = fresh_email(), fresh_email()
    viewer = AccessState(member=True, account_role="Member", scopes={"production": "Viewer"})
    platform.apply(stays, viewer)
    platform.apply(leaves, viewer)
    platform.apply(leaves, AccessState(member=True, account_role="Member", scopes={}))
    assert platform.get_access(leaves).scopes == {}
    assert platform.get_access(stays) == viewer
    assert len(group_members(django_scim, TOKEN)["production-viewers"]) >= 1


def test_platforms_check_finds_the_groups_and_says_how_it_reads_a_persons(django_scim: str) -> None:
    found = django_client(django_scim).check()
    assert found.ok and "4 mapped groups" in found.summary, found
    (groups,) = [capability for capability in found.capabilities if capability.name == "read a person's groups"]
    assert "supports no filters" in groups.detail and "User's groups" in groups.detail, groups
