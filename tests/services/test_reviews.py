"""Access reviews: the snapshot and its flags, Keep and Remove, and the schedule run once per slot."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from domain.access import AccessState
from domain.lifecycle import RequestStatus
from domain.review import FindingKind
from platforms.sandbox import SandboxPlatform
from services import review_actions, reviews
from services.decisions import Outcome, approve
from services.review_actions import ReviewOutcome
from services.reviews import ReviewView
from services.settings import ReviewSettings
from services.sweeper import sweep
from storage.audit import events_between
from storage.models import AccessReview
from tests.services.desk import ANA, Desk, approve_fully, make_desk, seed

ANALYST = AccessState(member=True, account_role="Analyst")
ADMIN = AccessState(member=True, account_role="Admin")


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Desk:
    """Reviews run on SQLite and on PostgreSQL (the schedule's slot is claimed across processes)."""
    return make_desk(tmp_path, database_url=database_url)


def sandbox(desk: Desk, name: str = "sandbox") -> SandboxPlatform:
    platform = desk.ctx.platforms[name]
    assert isinstance(platform, SandboxPlatform)
    return platform


def started(desk: Desk) -> ReviewView:
    review = reviews.start(desk.ctx, started_by="UDAVE")
    assert review is not None
    return review


def row(review: ReviewView, platform: str, email: str) -> reviews.ReviewItemView:
    return next(item for item in review.items if item.platform == platform and item.email == email)


def test_a_review_lists_everyone_and_flags_what_needs_a_look(desk: Desk) -> None:
    seed(desk, ANALYST)
    sandbox(desk).record_activity(ANA, desk.clock.now() - timedelta(days=90))
    seed(desk, ANALYST.model_copy(update={"account_role": "Consumer"}), "sandbox")  # still Ana, now a Consumer
    sandbox(desk).apply("active@agency.example", ANALYST)
    sandbox(desk).record_activity("active@agency.example", desk.clock.now() - timedelta(days=2))
    for n in range(4):
        sandbox(desk, "sandbox-eu").apply(f"admin{n}@client.example", ADMIN)
    request_id = desk.submit("add temp@agency.example sandbox viewer on production for 1h reason: qa")
    approve_fully(desk, request_id)
    desk.clock.advance(timedelta(hours=2))  # past its end, and no sweep has reverted it yet

    review = started(desk)
    assert [(item.platform, item.email) for item in review.items if item.platform == "sandbox"] == [
        ("sandbox", "active@agency.example"),
        ("sandbox", ANA),
        ("sandbox", "temp@agency.example"),
    ]
    assert [f.kind for f in row(review, "sandbox", ANA).findings] == [FindingKind.DORMANT]
    assert row(review, "sandbox", ANA).findings[0].text == "no activity for 90 days"
    assert row(review, "sandbox", "active@agency.example").findings == ()
    assert [f.kind for f in row(review, "sandbox", "temp@agency.example").findings] == [FindingKind.OVERDUE_ELEVATION]
    eu = [item for item in review.items if item.platform == "sandbox-eu"]
    assert len(eu) == 4 and all(f.kind is FindingKind.TOO_MANY_ADMINS for item in eu for f in item.findings)
    flagged_first = [item.email for item in review.items_on("sandbox")]
    assert flagged_first == [ANA, "temp@agency.example", "active@agency.example"]
    assert review.started_by == "UDAVE" and review.errors == {}
    posted = [view for kind, view in desk.notifier.reviews if kind == "posted"]
    assert [view.id for view in posted] == [review.id]
    assert all(item.message is not None for item in review.items)


def test_keep_is_recorded_once_by_an_approver_and_never_by_the_person_concerned(desk: Desk) -> None:
    seed(desk, ANALYST)
    item = row(started(desk), "sandbox", ANA)
    stranger = desk.directory.add("UDAVE", "dave@client.example")
    assert review_actions.keep(desk.ctx, item.id, person=stranger).outcome is ReviewOutcome.REFUSED
    ana = desk.directory.add("UANA", ANA)
    refused = review_actions.keep(desk.ctx, item.id, person=ana.model_copy(update={"slack_id": "UBOB"}))
    assert refused.outcome is ReviewOutcome.REFUSED and "your own access" in refused.reason

    kept = review_actions.keep(desk.ctx, item.id, person=desk.approver)
    assert kept.outcome is ReviewOutcome.KEPT and kept.item is not None and kept.item.decided_by == "UBOB"
    again = review_actions.remove(desk.ctx, item.id, person=desk.other_approver)
    assert again.outcome is ReviewOutcome.ALREADY_DECIDED
    assert [kind for kind, _ in desk.notifier.reviews] == ["posted", "decided"]
    with Session(desk.ctx.engine) as session:
        kept_events = [e for e in events_between(session=session) if e.event == "review_kept"]
    assert [(e.actor, e.target_email, e.platform) for e in kept_events] == [("UBOB", ANA, "sandbox")]


def test_remove_opens_an_ordinary_removal_request_that_another_approver_decides(desk: Desk) -> None:
    seed(desk, ANALYST)
    sandbox(desk).record_activity(ANA, desk.clock.now() - timedelta(days=61))
    item = row(started(desk), "sandbox", ANA)
    result = review_actions.remove(desk.ctx, item.id, person=desk.approver)
    assert result.outcome is ReviewOutcome.REMOVAL_REQUESTED and result.request is not None
    request = result.request
    assert request.verb == "remove" and request.status is RequestStatus.PENDING
    assert request.requester_id == "UBOB" and request.target_email == ANA
    assert request.reason == f"access review #{item.review_id}: no activity for 61 days"
    assert result.item is not None and result.item.request_id == request.id and result.item.decision == "remove"
    assert desk.audit(request.id) == ["requested", "review_removal_requested"]
    assert review_actions.remove(desk.ctx, item.id, person=desk.approver).outcome is ReviewOutcome.ALREADY_DECIDED

    assert approve(desk.ctx, request.id, approver=desk.approver).outcome is Outcome.REFUSED  # their own request
    decided = approve(desk.ctx, request.id, approver=desk.other_approver)
    assert decided.view is not None and decided.view.status is RequestStatus.APPLIED
    assert sandbox(desk).get_access(ANA) == AccessState.absent()


def test_a_removal_the_guard_rails_refuse_leaves_the_row_open(desk: Desk) -> None:
    seed(desk, ADMIN)  # the only admin: removing them would leave fewer than the policy keeps
    item = row(started(desk), "sandbox", ANA)
    refused = review_actions.remove(desk.ctx, item.id, person=desk.approver)
    assert refused.outcome is ReviewOutcome.REFUSED and "admin" in refused.reason
    assert refused.item is not None and refused.item.decision is None
    assert review_actions.keep(desk.ctx, item.id, person=desk.approver).outcome is ReviewOutcome.KEPT


def test_a_platform_that_cannot_be_listed_is_reported_and_the_others_reviewed(tmp_path: Path) -> None:
    desk = make_desk(tmp_path)
    seed(desk, ANALYST)

    class Down(SandboxPlatform):
        def list_members(self) -> list:
            from platforms.base import PlatformUnavailable

            raise PlatformUnavailable(self.name, "HTTP 503")

    platforms = dict(desk.ctx.platforms)
    platforms["sandbox-eu"] = Down(
        "sandbox-eu", platforms["sandbox-eu"].catalog, engine=desk.ctx.engine, now=desk.clock.now
    )
    desk.ctx = dataclasses.replace(desk.ctx, platforms=platforms)
    review = started(desk)
    assert review.errors == {"sandbox-eu": "HTTP 503"}
    assert [item.email for item in review.items] == [ANA]


# --- the schedule --------------------------------------------------------------------------------------------------


def scheduled(desk: Desk) -> list[datetime | None]:
    with Session(desk.ctx.engine) as session:
        return [review.scheduled_for for review in session.exec(select(AccessReview))]


def test_a_new_installation_does_not_review_last_month_and_the_first_slot_runs_once(desk: Desk) -> None:
    seed(desk, ANALYST)
    assert sweep(desk.ctx).reviews == 0  # Nov 22: the Nov 1 slot predates the schedule here
    desk.clock.current = datetime(2026, 12, 1, 8, 59, tzinfo=UTC)
    assert sweep(desk.ctx).reviews == 0
    desk.clock.current = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert sweep(desk.ctx).reviews == 1
    assert sweep(desk.ctx).reviews == 0
    assert scheduled(desk) == [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]


def test_after_a_long_outage_only_the_latest_missed_slot_is_caught_up(desk: Desk) -> None:
    sweep(desk.ctx)
    desk.clock.current = datetime(2027, 2, 15, 12, 0, tzinfo=UTC)
    assert sweep(desk.ctx).reviews == 1
    assert scheduled(desk) == [datetime(2027, 2, 1, 9, 0, tzinfo=UTC)]
    desk.clock.current = datetime(2027, 3, 1, 9, 0, 30, tzinfo=UTC)
    assert sweep(desk.ctx).reviews == 1
    assert scheduled(desk)[-1] == datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def test_two_processes_sweeping_at_once_post_one_review(desk: Desk) -> None:
    seed(desk, ANALYST)
    sweep(desk.ctx)
    desk.clock.current = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def instance() -> None:
        barrier.wait()
        results.append(sweep(desk.ctx).reviews)

    threads = [threading.Thread(target=instance) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert len([kind for kind, _ in desk.notifier.reviews if kind == "posted"]) == 1


def test_the_cadence_and_its_time_zone_come_from_the_config(desk: Desk) -> None:
    desk.ctx = dataclasses.replace(
        desk.ctx, review_settings=ReviewSettings(schedule="30 8 * * mon", timezone="Europe/Paris")
    )
    sweep(desk.ctx)  # Sunday 22 Nov 2026
    desk.clock.current = datetime(2026, 11, 23, 7, 29, tzinfo=UTC)  # Monday 08:29 in Paris
    assert sweep(desk.ctx).reviews == 0
    desk.clock.current = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert sweep(desk.ctx).reviews == 1


def test_no_schedule_means_no_scheduled_reviews(desk: Desk) -> None:
    desk.ctx = dataclasses.replace(desk.ctx, review_settings=ReviewSettings(schedule=None))
    desk.clock.current = datetime(2027, 6, 1, tzinfo=UTC)
    assert sweep(desk.ctx).reviews == 0


def test_a_bad_schedule_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="for example '0 9 1 \\* \\*'"):
        ReviewSettings(schedule="0 9 32 * *")
    with pytest.raises(ValueError, match="unknown time zone"):
        ReviewSettings(timezone="Mars/Olympus")
