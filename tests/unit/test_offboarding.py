"""The removal procedures' checklist and notice, as pure functions."""

from __future__ import annotations

from datetime import date

from domain.access import RemovalMethod
from domain.offboarding import GENERIC_CHECKLIST, Stage, checklist_for, fill_notice, filled, is_security_reason
from platforms.chartbeat import CHARTBEAT_CHECKLIST
from platforms.heap import HEAP_CHECKLIST, HEAP_NOTICE


def test_the_heap_notice_reads_like_the_procedures_template() -> None:
    notice = fill_notice(
        HEAP_NOTICE,
        name="Ana Lima",
        email="ana@agency.example",
        removed_on=date(2026, 11, 22),
        reference="ticket OPS-9",
        contact="the Acme analytics team",
    )
    assert notice.as_text() == (
        "Subject: Heap Analytics Access Removed for Ana Lima\n\n"
        "We have removed Heap Analytics access for ana@agency.example as of 22 November 2026\n"
        "per ticket OPS-9.\n\n"
        "The account no longer has access to any Heap projects or data.\n\n"
        "All dashboards and analyses created by this user have been preserved.\n\n"
        "If you believe this was done in error, please contact\n"
        "the Acme analytics team within 5 business days."
    )


def test_moving_content_is_asked_only_when_the_member_is_deleted_and_the_note_only_when_the_account_is_kept() -> None:
    for items in (GENERIC_CHECKLIST, HEAP_CHECKLIST, CHARTBEAT_CHECKLIST):
        deleted = checklist_for(items, RemovalMethod.DELETE)
        revoked = checklist_for(items, RemovalMethod.REVOKE)
        assert [item.title for item in items if item not in deleted] == ["Add the account note"]
        assert len(revoked) == len(items) - 1
        assert all("dashboards" not in item.title.lower() for item in revoked)
        after = checklist_for(items, RemovalMethod.REVOKE, Stage.AFTER)
        assert after[0].title == "Add the account note", "with the revoke itself, as the references put it"
        assert any("token" in item.title.lower() or "key" in item.title.lower() for item in revoked)


def test_the_account_note_is_filled_with_the_date_and_the_ticket() -> None:
    note = filled(
        checklist_for(HEAP_CHECKLIST, RemovalMethod.REVOKE, Stage.AFTER)[0], on=date(2026, 11, 26), reference="OPS-7"
    )
    assert note.instructions == (
        "In Heap, go to Account → Manage → Members, click the user's name and add the note "
        '"Access revoked 2026-11-26 per OPS-7." Save the profile.'
    )


def test_transfer_and_replacement_tokens_come_before_the_removal_as_the_references_order_them() -> None:
    for items in (GENERIC_CHECKLIST, HEAP_CHECKLIST, CHARTBEAT_CHECKLIST):
        before_delete = [item.title.lower() for item in checklist_for(items, RemovalMethod.DELETE, Stage.BEFORE)]
        before_revoke = [item.title.lower() for item in checklist_for(items, RemovalMethod.REVOKE, Stage.BEFORE)]
        assert len(before_delete) == 2 and any("dashboards" in title for title in before_delete)
        assert [title for title in before_revoke if "replace" in title], "replacement tokens, whatever the method"
        after = checklist_for(items, RemovalMethod.DELETE, Stage.AFTER)
        assert not {item.title for item in after} & set(before_delete), "each step is in one stage"
        assert any("revoke" in item.title.lower() or "rotate" in item.title.lower() for item in after)


def test_a_security_reason_is_a_word_starting_with_a_configured_one() -> None:
    words = ("security", "incident", "compromis")
    assert is_security_reason("account COMPROMISED, phishing", words)
    assert is_security_reason("Security incident SEC-12", words)
    assert not is_security_reason("engagement ended", words)
    assert not is_security_reason("insecurity about the budget", words), "a word that only contains one is not it"
