"""A generic SCIM platform says nothing of who administers it: no role counts as an organisation admin unless the
config says so, so the admin guard rails neither refuse ordinary members nor count them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import load_settings
from domain.access import AccessState
from domain.policy import GuardRails, guard_rails
from platforms.settings import ScimSettings

MEMBER = AccessState(member=True, account_role="Member")


def test_a_generic_scim_platforms_members_are_not_admins_by_default() -> None:
    catalog = ScimSettings(base_url="https://scim.example/v2", token="t").catalog()
    assert not catalog.is_admin("Member")
    # The fourth member of a service with three members: no "too many admins" refusal.
    checked = guard_rails(
        GuardRails(), platform="crm", catalog=catalog, current=AccessState.absent(), desired=MEMBER, org_admins=0
    )
    assert not checked.refusals


def test_admin_roles_are_what_the_config_names() -> None:
    settings = ScimSettings(
        base_url="https://scim.example/v2", token="t", account_roles=("Owner", "Member"), admin_roles=("Owner",)
    )
    assert settings.catalog().is_admin("Owner") and not settings.catalog().is_admin("Member")


def test_an_admin_role_that_is_not_a_role_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "accessbot.yml"
    config.write_text(
        "platforms:\n  crm:\n    type: scim\n    base_url: https://scim.example/v2\n    token: t\n"
        "    admin_roles: [Owner]\n"
    )
    with pytest.raises(ConfigError, match="admin_roles names Owner, not among account_roles"):
        load_settings(config)
