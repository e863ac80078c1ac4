"""What real SCIM servers do that the RFCs allow or that happens anyway, against a real scim2-server with the answers
of other servers injected: a refused member filter, malformed records, a login page at a wrong base URL, 501."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from domain.access import AccessState
from platforms.base import PlatformUnavailable, PlatformUnsupported, UnexpectedAnswer
from platforms.http import RetryPolicy
from platforms.scim import MalformedRecord, ScimPlatform
from platforms.settings import ScimSettings
from tests.platforms.contract import fresh_email
from tests.scim_server import ScimServer, running

GROUPS = {"production": {"Admin": "prod-admins", "Viewer": "prod-viewers"}}
MEMBER_FILTER = "members.value eq"


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running(GROUPS) as scim:
        yield scim


def client(server: ScimServer, retry: RetryPolicy | None = None) -> ScimPlatform:
    settings = ScimSettings.model_validate(
        {
            "base_url": server.url,
            "token": server.token,
            "account_roles": ["Admin", "Editor", "Member"],
            "groups": GROUPS,
            "retry": retry or RetryPolicy(timeout_seconds=2.0, attempts=3, initial_backoff_seconds=0.05),
        }
    )
    return ScimPlatform(
        "app", settings.catalog(), settings.http("app"), role_attribute=settings.role_attribute, groups=settings.groups
    )


def refuse_member_filter(server: ScimServer) -> None:
    server.fail("GET", "/Groups$", 400, query=MEMBER_FILTER, scim_type="invalidFilter", times=1000)


def test_a_server_refusing_the_member_filter_still_has_people_read_granted_and_removed(server: ScimServer) -> None:
    refuse_member_filter(server)
    platform = client(server)
    email = fresh_email()
    granted = AccessState(member=True, account_role="Editor", scopes={"production": "Viewer"})
    platform.apply(email, granted)
    assert platform.get_access(email) == granted
    platform.apply(email, AccessState(member=True, account_role="Editor", scopes={"production": "Admin"}))
    assert platform.get_access(email).scopes == {"production": "Admin"}, "left one group, joined the other"
    platform.apply(email, AccessState.absent())
    assert platform.get_access(email) == AccessState.absent(), "offboarding is not blocked"
    assert server.count("GET", MEMBER_FILTER) == 1, "refused once, then read another way"


def listing_with(server: ScimServer, *resources: dict[str, object]) -> None:
    """The next listing of Users answers these (after the real ones the server has)."""
    with server.admin() as admin:
        real = admin.get("Users", params={"startIndex": 1, "count": 100}).json()
    body = {**real, "Resources": [*real.get("Resources", []), *resources]}
    body["totalResults"] = len(body["Resources"])
    server.fail(
        "GET", "/Users$", 200, query="startIndex", body=json.dumps(body).encode(), content_type="application/scim+json"
    )


def user(user_id: str, email: str, **extra: object) -> dict[str, object]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": user_id,
        "userName": email,
        "active": True,
        "meta": {"resourceType": "User"},
        **extra,
    }


def test_a_malformed_record_is_skipped_and_marked_and_an_empty_email_is_tolerated(
    server: ScimServer, caplog: pytest.LogCaptureFixture
) -> None:
    platform = client(server)
    kept = fresh_email()
    platform.apply(kept, AccessState(member=True, account_role="Member"))
    listing_with(
        server,
        user("u-broken", "broken@client.example", active="perhaps"),
        user("u-noemail", "noemail@client.example", emails=[{"value": ""}]),  # django-scim2's user without email
    )
    members = {record.email: record for record in platform.list_members()}
    assert members[kept].access.member and members[kept].problem is None
    assert members["noemail@client.example"].problem is None, "an empty email value is dropped, not fatal"
    broken = members["broken@client.example"]
    assert broken.problem is not None and "record u-broken has a malformed active" in broken.problem
    assert "skipped a malformed record: record u-broken has a malformed active" in caplog.text


def test_looking_up_a_person_whose_record_is_malformed_says_so(server: ScimServer) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 1,
        "Resources": [user("u-7", "ana@client.example", active="perhaps")],
    }
    server.fail(
        "GET", "/Users$", 200, query="userName eq", body=json.dumps(body).encode(), content_type="application/scim+json"
    )
    with pytest.raises(
        MalformedRecord, match=r"record u-7 has a malformed active.*correct it on the platform"
    ) as caught:
        client(server).get_access("ana@client.example")
    assert not caught.value.retryable


def test_a_login_page_at_the_base_url_is_a_one_line_error_naming_it(server: ScimServer) -> None:
    server.fail("GET", "/Users$", 200, body=b"<html><form>Sign in</form></html>")
    with pytest.raises(UnexpectedAnswer) as caught:
        client(server).get_access("ana@client.example")
    message = str(caught.value)
    assert "answered HTTP 200 with text/html, not a JSON object" in message
    assert f"check platforms.app.base_url ({server.url})" in message
    assert not caught.value.retryable


def test_without_patch_whole_users_and_groups_are_written_with_put(server: ScimServer) -> None:
    server.fail("PATCH", "/(Users|Groups)/", 501, times=100)
    platform = client(server)
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Member", scopes={"production": "Viewer"}))
    changed = AccessState(member=True, account_role="Editor", scopes={"production": "Admin"})
    platform.apply(email, changed)
    assert platform.get_access(email) == changed
    assert server.count("PATCH") == 1, "asked once, then written whole"
    assert server.count("PUT", "/Users/") >= 1 and server.count("PUT", "/Groups/") >= 2


def test_501_says_what_the_server_lacks_and_is_neither_retried_nor_retryable(server: ScimServer) -> None:
    server.fail("PATCH", "/Users/", 501, times=10)
    server.fail("PUT", "/Users/", 501, times=10)
    platform = client(server)
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Member"))
    with pytest.raises(PlatformUnsupported, match="does not implement this") as caught:
        platform.apply(email, AccessState(member=True, account_role="Editor"))
    assert not caught.value.retryable and caught.value.kind == "unsupported"
    assert server.count("PATCH", "/Users/") == 1 and server.count("PUT", "/Users/") == 1


def test_writes_name_the_version_they_read_and_a_user_changed_meanwhile_is_read_again(server: ScimServer) -> None:
    platform = client(server)
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Member"))
    server.fail("PATCH", "/Users/", 412, times=1)  # someone else changed the user after the client read it
    platform.apply(email, AccessState(member=True, account_role="Editor"))
    assert platform.get_access(email).account_role == "Editor"
    versions = [version for method, path, version in server.if_match if method == "PATCH" and "/Users/" in path]
    assert len(versions) == 2 and all(version and version.startswith('W/"') for version in versions)


def test_a_412_from_a_server_without_etags_says_what_it_lacks_and_offers_no_retry(server: ScimServer) -> None:
    with server.admin() as admin:
        config = admin.get("ServiceProviderConfig").json()
    config["etag"] = {"supported": False}
    server.fail("GET", "/ServiceProviderConfig$", 200, body=json.dumps(config).encode(), times=100)
    platform = client(server)
    email = fresh_email()
    platform.apply(email, AccessState(member=True, account_role="Member"))
    server.fail("PATCH", "/Users/", 412, times=100)
    with pytest.raises(PlatformUnsupported, match="offers no ETags") as caught:
        platform.apply(email, AccessState(member=True, account_role="Editor"))
    assert not caught.value.retryable
    assert server.count("PATCH", "/Users/") == 1, "not tried again: it could not help"


def test_the_members_export_marks_a_malformed_record_and_a_login_page_is_one_line(
    server: ScimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {
        "database_url": f"sqlite:///{tmp_path}/bot.db",
        "platforms": {
            "app": {
                "type": "scim",
                "base_url": server.url,
                "token": server.token,
                "account_roles": ["Admin", "Editor", "Member"],
                "groups": GROUPS,
            }
        },
    }
    (tmp_path / "accessbot.yml").write_text(json.dumps(config))
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(tmp_path / "accessbot.yml"))
    listing_with(server, user("u-broken", "broken@client.example", active="perhaps"))
    out = tmp_path / "members.csv"
    assert main(["export", "members", "app", "--format", "csv", "--output", str(out)]) == 0
    (row,) = [row for row in csv.DictReader(out.open()) if row["email"] == "broken@client.example"]
    assert row["member"] == "unknown" and "record u-broken has a malformed active" in row["problem"]

    capsys.readouterr()
    server.fail("GET", "/Users$", 200, body=b"<html>Sign in</html>")
    assert main(["export", "members", "app", "--format", "csv", "--output", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not a JSON object: check platforms.app.base_url" in error
    assert "Traceback" not in error


def test_an_answer_that_trickles_in_is_abandoned_at_the_calls_deadline(server: ScimServer) -> None:
    """A byte every 0.2 s never trips the 1 s read timeout; before, the call waited for all 200 (40 s), holding a
    worker thread, and then tried again."""
    server.fail("GET", "/Users$", 200, body=b" " * 200, content_type="application/scim+json", trickle=0.2, times=3)
    platform = client(server, RetryPolicy(timeout_seconds=1.0, attempts=3, max_total_wait_seconds=1.5))
    with pytest.raises(PlatformUnavailable, match=r"was still answering after 1\.5 s, the most one call may take"):
        platform.get_access("ana@client.example")
    assert server.count("GET", "/Users") == 1, "no second attempt past the deadline"


@pytest.mark.parametrize("email", ['"bob ops"@client.example', "bo\\b@client.example"])
def test_an_address_the_strict_email_type_refuses_is_still_granted_and_removed(server: ScimServer, email: str) -> None:
    platform = client(server)
    platform.apply(email, AccessState(member=True, account_role="Member", scopes={"production": "Viewer"}))
    assert platform.get_access(email) == AccessState(
        member=True, account_role="Member", scopes={"production": "Viewer"}
    )
    platform.apply(email, AccessState.absent())
    assert platform.get_access(email) == AccessState.absent()


def test_a_server_that_ignores_filters_never_makes_the_client_act_on_someone_else(server: ScimServer) -> None:
    platform = client(server)
    bystander = fresh_email()
    platform.apply(bystander, AccessState(member=True, account_role="Editor", scopes={"production": "Admin"}))
    with server.admin() as admin:  # what such a server answers to any filter: everyone, everything
        users = admin.get("Users", params={"startIndex": 1, "count": 100}).content
        groups = admin.get("Groups", params={"startIndex": 1, "count": 100}).content
    server.fail("GET", "/Users$", 200, query="userName eq", body=users, content_type="application/scim+json", times=100)
    server.fail("GET", "/Groups$", 200, query="filter", body=groups, content_type="application/scim+json", times=100)
    leaver = fresh_email()
    assert platform.get_access(leaver) == AccessState.absent(), "not the bystander's access"
    platform.apply(leaver, AccessState.absent())
    assert server.count("DELETE", "/Users/") == 0, "nobody deleted in the leaver's place"
    server.faults.clear()
    assert client(server).get_access(bystander).scopes == {"production": "Admin"}


def capabilities(platform: ScimPlatform) -> dict[str, tuple[str, str, str]]:
    found = platform.check()
    return {item.name: (item.status, item.detail, item.fix) for item in found.capabilities}


def test_the_check_proves_what_it_can_by_reading_and_says_what_it_only_assumes(server: ScimServer) -> None:
    found = client(server).check()
    assert found.ok
    statuses = {item.name: item.status for item in found.capabilities}
    assert statuses == {
        "find a person by userName": "proven",
        "change a user and a group (PATCH)": "assumed",
        "account role in roles": "proven",
        "groups": "proven",
        "read a person's groups": "proven",
    }


def test_the_check_reads_what_the_server_says_of_itself_once(server: ScimServer) -> None:
    before = server.count("GET", "/ServiceProviderConfig")
    assert client(server).check().ok
    assert server.count("GET", "/ServiceProviderConfig") - before == 1


def test_the_check_says_a_server_offers_no_groups_where_the_config_maps_some(server: ScimServer) -> None:
    only_users = {"Resources": [{"id": "User", "name": "User", "endpoint": "/Users"}], "totalResults": 1}
    server.fail("GET", "/ResourceTypes$", 200, body=json.dumps(only_users).encode(), content_type="application/json")
    found = client(server).check()
    assert not found.ok and found.problems == [], "no group is looked for where there are none"
    (groups,) = [item for item in found.capabilities if item.name == "groups"]
    assert groups.status == "missing" and "no Group" in groups.detail
    assert groups.fix.startswith("this server has no groups: remove platforms.app.groups")


def test_the_check_finds_a_role_attribute_the_server_does_not_have_and_says_what_to_change(server: ScimServer) -> None:
    settings = ScimSettings.model_validate(
        {
            "base_url": server.url,
            "token": server.token,
            "account_roles": ["Admin", "Member"],
            "role_attribute": "urn:example:params:scim:schemas:extension:acme:2.0:User:accessLevel",
        }
    )
    platform = ScimPlatform("app", settings.catalog(), settings.http("app"), role_attribute=settings.role_attribute)
    found = platform.check()
    assert not found.ok, "a needed capability is missing"
    (role,) = [item for item in found.capabilities if item.name.startswith("account role")]
    assert role.status == "missing" and "has no accessLevel" in role.detail
    assert role.fix == "set platforms.app.role_attribute to the attribute that holds the role there"


def test_the_check_reports_a_refused_member_filter_as_a_fallback_and_a_refused_user_filter_as_missing(
    server: ScimServer,
) -> None:
    refuse_member_filter(server)
    groups = capabilities(client(server))["read a person's groups"]
    assert groups[0] in ("assumed", "proven") and "the member filter is refused" in groups[1]
    server.fail("GET", "/Users$", 400, query="userName eq", scim_type="invalidFilter", times=5)
    finding = client(server).check()
    assert not finding.ok
    (people,) = [item for item in finding.capabilities if item.name == "find a person by userName"]
    assert people.status == "missing" and people.fix == "enable SCIM filtering (userName eq) on the server"


def test_on_a_server_that_compares_usernames_with_their_case_a_removal_finds_the_account_however_spelled(
    server: ScimServer,
) -> None:
    user_id = server.create_user("Ana.Lima@Client.example", roles=[{"value": "Member", "primary": True}])
    with server.admin() as admin:
        schema = admin.get("Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    for attribute in schema["attributes"]:
        if attribute["name"] == "userName":
            attribute["caseExact"] = True  # as such a server says of itself
    server.fail("GET", "/Schemas/", 200, body=json.dumps(schema).encode(), content_type="application/scim+json")
    empty = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": []}
    # Its filter misses the differently spelled address, as a case-sensitive comparison does.
    server.fail(
        "GET",
        "/Users$",
        200,
        query="userName eq",
        body=json.dumps(empty).encode(),
        content_type="application/scim+json",
        times=100,
    )
    platform = client(server)
    assert platform.get_access("ana.lima@client.example").member, "a miss was not taken as proof of absence"
    platform.apply("ana.lima@client.example", AccessState.absent())
    assert server.count("DELETE", f"/Users/{user_id}") == 1, "the removal removed the account"


def test_the_service_provider_config_is_read_again_after_a_failure_that_may_pass(server: ScimServer) -> None:
    platform = client(server)
    server.fail("GET", "/ServiceProviderConfig$", 503, times=10)
    assert platform.filters_trusted(), "nothing known: filters are trusted, as the RFC has them"
    server.faults.clear()
    asked = server.count("GET", "/ServiceProviderConfig$")
    assert platform.filters_trusted()
    platform.filters_trusted()
    assert server.count("GET", "/ServiceProviderConfig$") == asked + 1, "read again once, then kept"
