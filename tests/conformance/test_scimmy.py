"""The SCIM client's contract against SCIMMY 1.3 with scimmy-routers, run as a small Express app on Node.js
(scripts/install-scimmy installs Node.js and the packages when they are missing)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.access import AccessState
from platforms.base import Platform
from tests.conformance.servers import GROUP_SCHEMA, admin, client, serving
from tests.platforms.contract import PlatformContract, fresh_email

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).resolve().parent / "scimmy" / "server.js"
TOKEN = "scimmy-test-token"


@pytest.fixture(scope="module")
def scimmy() -> Iterator[str]:
    installed = subprocess.run([str(ROOT / "scripts" / "install-scimmy")], capture_output=True, text=True)
    assert installed.returncode == 0, f"the SCIMMY server could not be installed:\n{installed.stderr}"
    with serving(["node", str(SERVER), TOKEN], token=TOKEN) as url:
        yield url


def scimmy_client(url: str) -> Platform:
    return client("scimmy", url, TOKEN, account_roles=["Admin", "Editor", "Member"])


class TestScimmyContract(PlatformContract):
    @pytest.fixture
    def platform(self, scimmy: str) -> Platform:
        return scimmy_client(scimmy)


def test_a_member_filter_the_server_fails_on_is_read_another_way(scimmy: str) -> None:
    # SCIMMY answers the members.value filter with 400 invalidValue while a group has no members.
    with admin(scimmy, TOKEN) as scim:
        scim.post("Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "nobody-in-it"}).raise_for_status()
        refused = scim.get("Groups", params={"filter": 'members.value eq "x"'})
    assert refused.status_code == 400, refused.text
    platform = scimmy_client(scimmy)
    email = fresh_email()
    granted = AccessState(member=True, account_role="Member", scopes={"production": "Admin"})
    platform.apply(email, granted)
    assert platform.get_access(email) == granted


def test_the_role_is_kept_in_the_core_roles_attribute(scimmy: str) -> None:
    platform = scimmy_client(scimmy)
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Editor", scopes={"staging": "Admin"}))
    with admin(scimmy, TOKEN) as scim:
        (user,) = scim.get("Users", params={"filter": f'userName eq "{email}"'}).json()["Resources"]
    assert [role["value"] for role in user["roles"]] == ["Editor"]


def test_platforms_check_reads_a_persons_groups_another_way_where_the_member_filter_fails(scimmy: str) -> None:
    found = scimmy_client(scimmy).check()
    assert found.ok, found
    (groups,) = [capability for capability in found.capabilities if capability.name == "read a person's groups"]
    assert "fails on the member filter" in groups.detail, groups
