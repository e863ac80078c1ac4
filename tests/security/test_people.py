"""One person, however their address is spelled: plus-addressing, case and Unicode look-alikes cannot be used to
approve, review or do the steps of one's own access."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.people import Mailboxes
from domain.policy import PolicyConfig
from services.decisions import Outcome, approve
from tests.services.desk import Desk, make_desk


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return make_desk(tmp_path)


PLUS = Mailboxes()
same_mailbox = PLUS.same


@pytest.mark.parametrize(
    "spelling",
    ["bob+ops@client.example", "Bob@Client.Example", "\uff42\uff4f\uff42@client.example", " bob+x+y@CLIENT.example "],
)
def test_spellings_of_one_mailbox_are_one_person(spelling: str) -> None:
    assert same_mailbox(spelling, "bob@client.example")


@given(tag=st.text(alphabet=st.characters(codec="ascii", categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=12))
def test_any_plus_tag_reaches_the_same_person(tag: str) -> None:
    assert PLUS.canonical(f"bob+{tag}@client.example") == "bob@client.example"


def test_different_people_stay_different() -> None:
    assert not same_mailbox("bob@client.example", "bobby@client.example")
    assert not same_mailbox("bob@client.example", "bob@other.example")
    assert not same_mailbox(None, "bob@client.example")


def test_an_approver_cannot_approve_access_for_their_own_plus_address(desk: Desk) -> None:
    request_id = desk.submit("add bob+ops@client.example sandbox viewer on production reason: a second login")
    refused = approve(desk.ctx, request_id, approver=desk.approver)  # bob@client.example
    assert refused.outcome is Outcome.REFUSED
    assert "changes your own access" in (refused.reason or "")


def test_a_domain_where_plus_is_part_of_the_name_keeps_its_people_apart() -> None:
    literal = Mailboxes(plus_addressing_domains={"Legacy.Example": False})
    assert not literal.same("bob+ops@legacy.example", "bob@legacy.example")
    assert literal.same("Bob+Ops@LEGACY.example", "bob+ops@legacy.example")
    assert literal.same("bob+ops@client.example", "bob@client.example"), "other domains keep the default"
    only_one = Mailboxes(plus_addressing=False, plus_addressing_domains={"client.example": True})
    assert only_one.same("bob+ops@client.example", "bob@client.example")
    assert not only_one.same("bob+ops@other.example", "bob@other.example")


def test_a_domain_written_as_an_address_is_refused_with_what_to_write() -> None:
    with pytest.raises(ValueError, match="not a mail domain: write the part after the @"):
        Mailboxes(plus_addressing_domains={"bob@legacy.example": False})


def test_with_plus_addressing_off_for_a_domain_its_plus_address_is_another_person_to_approve_for(desk: Desk) -> None:
    desk.ctx = replace(
        desk.ctx, policy=PolicyConfig(people=Mailboxes(plus_addressing_domains={"client.example": False}))
    )
    request_id = desk.submit("add bob+ops@client.example sandbox viewer on production reason: a shared ops login")
    assert approve(desk.ctx, request_id, approver=desk.approver).outcome is Outcome.DONE
