"""The SCIM client's contract against django-scim2 (0.23), run as a small Django project on a loopback port.

django-scim2 differs from RFC 7643/7644 in ways real deployments meet: it says filtering is not supported and yet
answers a userName filter, answers a Group filter with nothing at all (no error), has no roles attribute, and writes
an empty email value for a user without one. The client adapts to each.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from domain.access import AccessState
from platforms.base import Platform, PlatformContext
from platforms.registry import build_platforms
from platforms.scim import ScimPlatform
from platforms.settings import ScimSettings
from storage.db import make_engine
from tests.platforms.contract import PlatformContract, fresh_email

SERVER = Path(__file__).resolve().parent / "django_scim" / "server.py"
TOKEN = "django-scim-test-token"
GROUPS = {
    "production": {"Admin": "production-admins", "Viewer": "production-viewers"},
    "staging": {"Admin": "staging-admins", "Viewer": "staging-viewers"},
}


@pytest.fixture(scope="module")
def django_scim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's SCIM base URL, once it answers."""
    database = tmp_path_factory.mktemp("django-scim") / "scim.db"
    process = subprocess.Popen(
        [sys.executable, str(SERVER), str(database), TOKEN], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until it listens, or ends
        assert line.startswith("listening "), f"django-scim2 did not start: {line}{process.stdout.read()}"
        url = f"http://127.0.0.1:{line.split()[1]}/scim/v2/"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
            for roles in GROUPS.values():
                for group in roles.values():
                    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": group}
                    admin.post("Groups", json=body).raise_for_status()
        yield url
    finally:
        process.terminate()
        process.wait(30)


def client(url: str) -> ScimPlatform:
    # django-scim2 has no roles: every account is a Member.
    settings = ScimSettings(base_url=url, token=TOKEN, role_attribute="none", account_roles=("Member",), groups=GROUPS)
    context = PlatformContext(engine=make_engine("sqlite://"), now=lambda: datetime.now(UTC))
    platform = build_platforms({"django": settings}, context)["django"]
    assert isinstance(platform, ScimPlatform)
    return platform


class TestDjangoScimContract(PlatformContract):
    @pytest.fixture
    def platform(self, django_scim: str) -> Platform:
        return client(django_scim)


def test_a_filter_the_server_says_it_does_not_support_is_not_taken_for_an_answer(django_scim: str) -> None:
    with httpx.Client(base_url=django_scim, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        config = admin.get("ServiceProviderConfig").json()
        nothing = admin.get("Groups", params={"filter": 'displayName eq "production-viewers"'}).json()
    assert config["filter"]["supported"] is False and nothing["Resources"] == [], "what the client must not trust"
    platform = client(django_scim)
    group = platform.find_group("production-viewers")
    assert group is not None and group.display_name == "production-viewers"
    email = fresh_email()
    granted = AccessState(member=True, account_role="Member", scopes={"production": "Viewer", "staging": "Admin"})
    platform.apply(email, granted)
    assert platform.get_access(email) == granted, "a person's groups are read from the User, not a filter"


def test_one_member_is_removed_from_a_group_in_the_form_the_server_takes_and_nobody_else(django_scim: str) -> None:
    platform = client(django_scim)
    stays, leaves = fresh_email(), fresh_email()
    viewer = AccessState(member=True, account_role="Member", scopes={"production": "Viewer"})
    platform.apply(stays, viewer)
    platform.apply(leaves, viewer)
    # django-scim2 answers RFC 7644's filtered removal (members[value eq "..."]) with 501, and takes the member in
    # `value`: the client finds that out on the first removal, and checks that nobody else went.
    platform.apply(leaves, AccessState(member=True, account_role="Member", scopes={}))
    assert platform.get_access(leaves).scopes == {}
    assert platform.get_access(stays) == viewer
