"""What an access review flags about one person's access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.access import AccessState
from domain.review import FindingKind, ReviewLimits, findings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIMITS = ReviewLimits(dormant_after=timedelta(days=60), max_admins=3)
MEMBER = AccessState(member=True, account_role="Analyst")
ADMIN = AccessState(member=True, account_role="Admin")


def kinds(**given: object) -> list[FindingKind]:
    arguments: dict = {"access": MEMBER, "last_active": None, "now": NOW, "limits": LIMITS} | given
    return [finding.kind for finding in findings(**arguments)]


def test_activity_older_than_the_limit_is_dormant_and_says_how_old() -> None:
    (found,) = findings(access=MEMBER, last_active=NOW - timedelta(days=73), now=NOW, limits=LIMITS)
    assert found.kind is FindingKind.DORMANT and found.text == "no activity for 73 days"
    assert kinds(last_active=NOW - timedelta(days=60)) == [FindingKind.DORMANT]
    assert kinds(last_active=NOW - timedelta(days=59, hours=23)) == []


def test_a_platform_that_does_not_report_activity_flags_nobody_as_dormant() -> None:
    assert kinds(last_active=None) == []


def test_each_temporary_grant_past_its_end_is_flagged() -> None:
    ended = [NOW - timedelta(hours=2), NOW - timedelta(days=3)]
    found = findings(access=MEMBER, last_active=None, now=NOW, limits=LIMITS, overdue_elevations=ended)
    assert [finding.kind for finding in found] == [FindingKind.OVERDUE_ELEVATION] * 2
    assert found[0].text.startswith("temporary access that should have ended 2026-11-28 09:00 UTC")


def test_admins_are_flagged_only_beyond_the_limit() -> None:
    assert kinds(access=ADMIN, is_admin=True, admin_count=3) == []
    assert kinds(access=ADMIN, is_admin=True, admin_count=4) == [FindingKind.TOO_MANY_ADMINS]
    assert kinds(access=MEMBER, is_admin=False, admin_count=4) == []
