"""A SCIM service that invites new users by email keeps them `active: false` until they accept. With
`invitation_days` set such a user is a member, invited and not accepted yet; without it, RFC 7643's reading stands
(an inactive user has no access)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from domain.access import AccessState
from platforms.registry import PlatformContext, build_platforms
from platforms.scim import ScimPlatform
from storage.db import make_engine
from tests.platforms.test_scim import GROUPS, settings_for
from tests.scim_server import ScimServer, running

ANA = "ana@client.example"


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running(GROUPS) as scim:
        yield scim


def client(server: ScimServer, **overrides: object) -> ScimPlatform:
    platforms = build_platforms(
        {"app": settings_for(server, **overrides)},
        PlatformContext(engine=make_engine("sqlite://"), now=lambda: datetime.now(UTC)),
    )
    platform = platforms["app"]
    assert isinstance(platform, ScimPlatform)
    return platform


def test_an_invited_user_is_a_member_who_has_not_accepted_until_the_service_says_they_have(server: ScimServer) -> None:
    user = server.create_user(ANA, active=False, roles=[{"value": "Editor"}])
    app = client(server, invitation_days=14)
    assert app.invitation_days == 14 and app.reports_invitations
    assert app.get_access(ANA) == AccessState(member=True, account_role="Editor", scopes={})
    assert [record.email for record in app.list_members()] == [ANA]
    assert app.invitation_accepted(ANA) is False

    server.patch_user(user, "active", True)
    assert app.invitation_accepted(ANA) is True


def test_a_change_to_an_invited_user_leaves_the_acceptance_to_them(server: ScimServer) -> None:
    user = server.create_user(ANA, active=False, roles=[{"value": "Member"}])
    app = client(server, invitation_days=14)
    app.apply(ANA, AccessState(member=True, account_role="Editor", scopes={"staging": "Viewer"}))
    assert app.get_access(ANA) == AccessState(member=True, account_role="Editor", scopes={"staging": "Viewer"})
    with server.admin() as admin:
        assert admin.get(f"Users/{user}").json()["active"] is False, "the bot cannot accept for them"


def test_without_invitations_an_inactive_user_has_no_access(server: ScimServer) -> None:
    server.create_user(ANA, active=False, roles=[{"value": "Editor"}])
    app = client(server)
    assert app.invitation_days is None and not app.reports_invitations
    assert app.get_access(ANA) == AccessState.absent()
    assert app.list_members() == []
    assert app.invitation_accepted(ANA) is None
