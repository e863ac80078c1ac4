"""One person, however their address is spelled: plus-addressing, case and Unicode look-alikes cannot be used to
approve, review or do the steps of one's own access."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.people import canonical_email, same_mailbox
from services.decisions import Outcome, approve
from tests.services.desk import Desk, make_desk


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return make_desk(tmp_path)


@pytest.mark.parametrize(
    "spelling",
    ["bob+ops@client.example", "Bob@Client.Example", "\uff42\uff4f\uff42@client.example", " bob+x+y@CLIENT.example "],
)
def test_spellings_of_one_mailbox_are_one_person(spelling: str) -> None:
    assert same_mailbox(spelling, "bob@client.example")


@given(tag=st.text(alphabet=st.characters(codec="ascii", categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=12))
def test_any_plus_tag_reaches_the_same_person(tag: str) -> None:
    assert canonical_email(f"bob+{tag}@client.example") == "bob@client.example"


def test_different_people_stay_different() -> None:
    assert not same_mailbox("bob@client.example", "bobby@client.example")
    assert not same_mailbox("bob@client.example", "bob@other.example")
    assert not same_mailbox(None, "bob@client.example")


def test_an_approver_cannot_approve_access_for_their_own_plus_address(desk: Desk) -> None:
    request_id = desk.submit("add bob+ops@client.example sandbox viewer on production reason: a second login")
    refused = approve(desk.ctx, request_id, approver=desk.approver)  # bob@client.example
    assert refused.outcome is Outcome.REFUSED
    assert "changes your own access" in (refused.reason or "")
