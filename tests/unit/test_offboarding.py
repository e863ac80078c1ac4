"""The removal procedures' checklist and notice, as pure functions."""

from __future__ import annotations

from datetime import date

from domain.access import RemovalMethod
from domain.offboarding import GENERIC_CHECKLIST, checklist_for, fill_notice, filled
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
        assert revoked[0].title == "Add the account note", "with the revoke itself, as the references put it"
        assert any("token" in item.title.lower() or "key" in item.title.lower() for item in revoked)


def test_the_account_note_is_filled_with_the_date_and_the_ticket() -> None:
    note = filled(checklist_for(HEAP_CHECKLIST, RemovalMethod.REVOKE)[0], on=date(2026, 11, 26), reference="OPS-7")
    assert note.instructions == (
        "In Heap, go to Account → Manage → Members, click the user's name and add the note "
        '"Access revoked 2026-11-26 per OPS-7." Save the profile.'
    )
