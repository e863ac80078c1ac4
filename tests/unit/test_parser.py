from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.access import AccessChange, RemovalMethod
from domain.catalog import RoleCatalog
from domain.commands import (
    CommandError,
    EvidenceCommand,
    GrantCommand,
    HelpCommand,
    ListCommand,
    OpenFormCommand,
    RemoveCommand,
    StatusCommand,
    Target,
    parse_command,
)
from domain.durations import Until
from platforms.heap_catalog import heap_catalog

CATALOGS: dict[str, RoleCatalog] = {"heap": heap_catalog(), "sandbox": heap_catalog(projects=("production", "staging"))}


def parse(text: str) -> object:
    return parse_command(text, CATALOGS)


# --- what parses, and into what ----------------------------------------------------------------------------


def test_add_with_scopes_duration_reason_and_ticket() -> None:
    command = parse("add ana@agency.com heap viewer on production, staging for 2w reason: Q4 dashboards ticket: OPS-12")
    assert command == GrantCommand(
        verb="add",
        target=Target(email="ana@agency.com"),
        platform="heap",
        role="Viewer",
        scopes=("production", "staging"),
        change=AccessChange(scopes={"production": "Viewer", "staging": "Viewer"}),
        duration=timedelta(weeks=2),
        reason="Q4 dashboards",
        ticket="OPS-12",
    )


def test_role_without_scopes_is_the_account_role_in_canonical_spelling() -> None:
    command = parse("update <@U0ANA|ana> HEAP read_only reason: step down")
    assert isinstance(command, GrantCommand)
    assert command.target == Target(slack_id="U0ANA")
    assert command.platform == "heap"
    assert command.change == AccessChange(account_role="Read-Only")


def test_until_a_date_is_kept_as_typed_for_the_requesters_time_zone() -> None:
    command = parse("add a@b.co heap admin until 2026-12-01 reason: go-live")
    assert isinstance(command, GrantCommand)
    assert command.until == Until(at=datetime(2026, 12, 1), date_only=True)
    assert command.duration is None


def test_ticket_may_come_before_the_reason_and_labels_ignore_case() -> None:
    command = parse("add a@b.co heap analyst TICKET: OPS-9 Reason: audit prep")
    assert isinstance(command, GrantCommand)
    assert (command.reason, command.ticket) == ("audit prep", "OPS-9")


def test_update_none_on_scopes_takes_them_away() -> None:
    command = parse("update a@b.co heap none on staging reason: sunset")
    assert isinstance(command, GrantCommand)
    assert command.change == AccessChange(scopes={"staging": None})


def test_modules_are_scopes_with_their_own_roles() -> None:
    command = parse("add a@b.co heap data-manager on govern reason: tracking plan")
    assert isinstance(command, GrantCommand)
    assert command.change == AccessChange(scopes={"govern": "Data Manager"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "remove a@b.co heap reason: done",
            RemoveCommand(target=Target(email="a@b.co"), platform="heap", reason="done"),
        ),
        (
            "remove <mailto:a@b.co|a@b.co> all revoke reason: ended ticket: OPS-4",
            RemoveCommand(
                target=Target(email="a@b.co"),
                platform="all",
                method=RemovalMethod.REVOKE,
                reason="ended",
                ticket="OPS-4",
            ),
        ),
        ("list", ListCommand()),
        ("list heap", ListCommand(platform="heap")),
        ("list <@U1> sandbox", ListCommand(target=Target(slack_id="U1"), platform="sandbox")),
        ("status #42", StatusCommand(request_id=42)),
        ("status AR-7", StatusCommand(request_id=7)),
        ("evidence #42", EvidenceCommand(request_id=42)),
        ("help", HelpCommand()),
        ("help remove", HelpCommand(topic="remove")),
        ("", OpenFormCommand()),
        ("   ", OpenFormCommand()),
    ],
)
def test_other_verbs(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_emails_are_lowercased() -> None:
    command = parse("add Ana.Smith@Agency.COM heap viewer on production reason: x")
    assert isinstance(command, GrantCommand)
    assert command.target.email == "ana.smith@agency.com"


# --- what does not parse, and what it says -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("frob a@b.co", None, "Unknown command `frob`"),
        ("add a@b.co hep viewer reason: x", "platform", "Unknown platform `hep`. Did you mean `heap`?"),
        ("add a@b.co heap wizard reason: x", "role", "`wizard` is not an account role on heap"),
        ("add a@b.co heap analyst on production reason: x", "role", "Roles there: Admin, Contributor, Viewer"),
        ("add a@b.co heap viewer on prod reason: x", "scopes", "Did you mean `production`?"),
        ("add bob heap viewer reason: x", "target", "not an email address or an @mention"),
        ("add @bob heap viewer reason: x", "target", "Pick the person from the @ menu"),
        ("add a@b.co heap viewer reason: x", "role", "`viewer` is a role on production, staging, development"),
        ("add a@b.co heap analyst", "reason", "Missing reason"),
        ("add a@b.co heap analyst reason:   ", "reason", "Missing reason"),
        ("add a@b.co heap admin for 3 fortnights reason: x", "duration", "Unknown unit 'fortnights'"),
        ("add a@b.co heap admin for 0h reason: x", "duration", "is zero"),
        ("add a@b.co heap admin for 20000d reason: x", "duration", "longer than ten years"),
        ("add a@b.co heap admin until 2026-02-30 reason: x", "duration", "not a real date"),
        ("add a@b.co heap admin until soon reason: x", "duration", "not a date"),
        ("add a@b.co heap admin for 4h until 2026-12-01 reason: x", None, "either `for <duration>` or `until <date>`"),
        ("add a@b.co heap admin for reason: x", None, "`for` needs a duration"),
        ("add a@b.co heap admin please reason: x", None, "Unexpected `please`"),
        ("add a@b.co heap none on staging reason: x", "role", "use `update ... none on <scope>`"),
        ("update a@b.co heap none reason: x", "role", "Name the scope with `on <scope>`"),
        ("update a@b.co heap none on staging for 2h reason: x", "duration", "cannot be temporary"),
        ("add a@b.co heap analyst reason: a ticket:", "ticket", "`ticket:` is empty"),
        ("add a@b.co heap analyst reason: a ticket: two words", "ticket", "one word"),
        ("add a@b.co heap viewer reason: a reason: b", None, "`reason:` is given twice"),
        ("remove a@b.co heap nuke reason: x", "method", "`nuke` is not a removal method"),
        ("remove a@b.co reason: x", "platform", "Say which platform, or `all`"),
        ("add a@b.co", "platform", "Say which platform"),
        ("add a@b.co heap", "role", "Account roles on heap: Admin, Architect, Analyst, Consumer, Read-Only"),
        ("status", None, "Give one request id"),
        ("status abc", None, "not a request id"),
        ("evidence", None, "Give one request id"),
        ("evidence 4 5", None, "Give one request id"),
        ("list somebody", None, "neither a person"),
        ("reason: why", None, "Start with what you want to do"),
        (f"add a@b.co heap analyst reason: {'x' * 501}", "reason", "keep it under 500"),
    ],
)
def test_errors_name_the_problem_and_show_the_usage(text: str, field: str | None, says: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text)
    assert says in caught.value.problem
    assert caught.value.field == field
    assert caught.value.usage is not None
    assert caught.value.usage.startswith("/access ")


def test_usage_shown_is_the_one_for_the_verb_typed() -> None:
    with pytest.raises(CommandError) as caught:
        parse("remove a@b.co heap nuke reason: x")
    assert caught.value.usage is not None and caught.value.usage.startswith("/access remove")
    assert caught.value.example is not None and caught.value.example.startswith("/access remove")


# --- properties ------------------------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "add",
        "update",
        "remove",
        "list",
        "status",
        "evidence",
        "help",
        "heap",
        "sandbox",
        "all",
        "on",
        "for",
        "until",
        "reason:",
        "ticket:",
        "viewer",
        "admin",
        "none",
        "production",
        "4h",
        "2026-12-01",
        "a@b.co",
        "<@U1>",
        "revoke",
        "#3",
        ",",
    ]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=14).map(" ".join)))
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        parse(text)
    except CommandError as error:
        assert error.problem
        assert error.usage is None or error.usage.startswith("/access")


SCOPES = ("production", "staging", "development", "govern")


@st.composite
def grant_commands(draw: st.DrawFn) -> str:
    verb = draw(st.sampled_from(["add", "update"]))
    who = draw(st.sampled_from(["ana@agency.com", "<@U0ANA>", "x.y+z@sub.example.org"]))
    scopes = draw(st.lists(st.sampled_from(SCOPES[:3]), max_size=3, unique=True))
    role = draw(st.sampled_from(["Viewer", "Admin", "Contributor"] if scopes else ["Admin", "Analyst", "Read-Only"]))
    expiry = draw(st.sampled_from(["", "for 30m", "for 1d12h", "until 2026-12-01", "until 2026-12-01T18:30:00"]))
    reason = draw(
        st.text(alphabet=st.characters(categories=["L", "N"], include_characters=" -."), min_size=1, max_size=40)
    )
    ticket = draw(st.sampled_from(["", " ticket: OPS-1"]))
    on = f" on {','.join(scopes)}" if scopes else ""
    return f"{verb} {who} heap {role}{on} {expiry} reason: {reason}{ticket}"


@settings(max_examples=200)
@given(grant_commands())
def test_a_command_written_back_out_parses_to_the_same_command(text: str) -> None:
    try:
        command = parse(text)
    except CommandError:
        return  # e.g. a reason of only spaces: refused, which other tests cover
    assert isinstance(command, GrantCommand | RemoveCommand)
    assert parse(command.canonical().removeprefix("/access ")) == command


def test_the_example_for_an_unknown_platform_names_a_configured_one() -> None:
    only_sandbox = {"sandbox": CATALOGS["sandbox"]}
    with pytest.raises(CommandError) as caught:
        parse_command("add ana@agency.com heap viewer reason: x", only_sandbox)
    assert caught.value.example is not None and " sandbox viewer " in caught.value.example
    assert " heap " not in caught.value.example
    with pytest.raises(CommandError) as where_heap_is:
        parse_command("add ana@agency.com hep viewer reason: x", CATALOGS)
    assert where_heap_is.value.example is not None and " heap viewer " in where_heap_is.value.example
