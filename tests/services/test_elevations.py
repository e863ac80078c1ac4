"""Temporary elevations: reminders, revert at expiry, extension, early revoke, overlaps, drift, restarts, races.

Time is an injected FakeClock; the sweep is called directly, as the scheduler's jobs would call it.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlmodel import Session, col, select

from domain.access import AccessState
from domain.ledger import EndReason, GrantState
from domain.lifecycle import RequestStatus
from platforms.base import ApplyResult, Platform, PlatformError
from platforms.settings import SandboxSettings
from services.decisions import Outcome, approve
from services.grant_actions import GrantOutcome, ask_extension, end_now, keep
from services.grants import live_views, load
from services.ports import SystemClock
from services.settings import ElevationSettings
from services.sweeper import next_moment, sweep
from storage.db import session_scope
from storage.ledger import claim_due_accounts, claim_reminder, get_grant
from storage.models import AuditEvent, PlatformAccount
from tests.fakes import FlakyPlatform
from tests.services.desk import ANA, Desk, access, approve_fully, make_desk, seed

HOUR = timedelta(hours=1)
CONSUMER = AccessState(member=True, account_role="Consumer")


def elevate(desk: Desk, text: str) -> int:
    """Submit and approve; returns the elevation id the approval started."""
    request_id = desk.submit(text)
    view = approve_fully(desk, request_id)
    assert view.status is RequestStatus.APPLIED, view
    assert len(view.elevations) == 1
    return view.elevations[0].id


def status(desk: Desk, elevation_id: int) -> GrantState:
    found = load(desk.ctx, elevation_id)
    assert found is not None
    return found[0].state


def sent(desk: Desk, kind: str) -> int:
    return [k for k, _ in desk.notifier.elevations].count(kind)


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Desk:
    """The scheduler's tests run on SQLite and on PostgreSQL."""
    return make_desk(tmp_path, database_url=database_url)


@pytest.fixture
def consumer(desk: Desk) -> Desk:
    seed(desk, CONSUMER)
    return desk


def test_reminders_go_out_before_expiry_and_the_revert_happens_at_it(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox contributor on staging for 2d reason: go-live")
    start = desk.clock.now()
    (elevation, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert elevation.ends_at == start + timedelta(days=2)
    assert elevation.remind_at == (start + timedelta(days=1), start + timedelta(days=2) - HOUR)

    desk.clock.advance(timedelta(hours=23, minutes=59))
    assert sweep(desk.ctx).reminded == 0
    desk.clock.advance(timedelta(minutes=1))
    assert sweep(desk.ctx).reminded == 1
    assert sweep(desk.ctx).reminded == 0, "a reminder goes out once"
    desk.clock.advance(timedelta(hours=23))
    assert sweep(desk.ctx).reminded == 1
    assert sent(desk, "reminder") == 2
    assert access(desk).scopes == {"staging": "Contributor"}

    desk.clock.advance(HOUR - timedelta(seconds=1))
    assert sweep(desk.ctx).reverted == 0
    desk.clock.advance(timedelta(seconds=1))
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == CONSUMER
    assert status(desk, elevation_id) is GrantState.ENDED
    assert sweep(desk.ctx).reverted == 0, "and it is reverted once"
    (ended, view) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert ended.reverted == {"scope:staging": ("Contributor", None)}
    assert ended.ended_at == start + timedelta(days=2)
    assert desk.audit(view.id)[-5:] == ["elevation_started", "reminded", "reminded", "reconcile_planned", "reverted"]


def test_reminders_already_past_are_skipped(consumer: Desk) -> None:
    elevation_id = elevate(consumer, f"update {ANA} sandbox admin for 30m reason: hotfix")
    (elevation, _) = load(consumer.ctx, elevation_id)  # type: ignore[misc]
    assert elevation.remind_at == ()
    consumer.clock.advance(timedelta(minutes=30))
    assert sweep(consumer.ctx).reverted == 1
    assert sent(consumer, "reminder") == 0


def test_the_clock_starts_when_the_change_is_applied(consumer: Desk) -> None:
    request_id = consumer.submit(f"update {ANA} sandbox admin for 4h reason: x")
    consumer.clock.advance(timedelta(hours=3))
    view = approve_fully(consumer, request_id)
    assert view.elevations[0].ends_at == consumer.clock.now() + timedelta(hours=4)


def test_an_approver_extending_moves_the_end_and_the_reminders(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox analyst for 2d reason: x")
    (before, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    result = ask_extension(desk.ctx, elevation_id, span=timedelta(days=1), reason="more QA", person=desk.approver)
    assert result.outcome is GrantOutcome.EXTENDED
    (after, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert after.ends_at == before.ends_at + timedelta(days=1)
    assert after.remind_at == tuple(moment + timedelta(days=1) for moment in before.remind_at)
    desk.clock.advance(timedelta(days=2))
    assert sweep(desk.ctx).reverted == 0
    desk.clock.advance(timedelta(days=1))
    assert sweep(desk.ctx).reverted == 1
    assert sent(desk, "extended") == 1


def test_a_requester_extension_goes_back_through_approval(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox analyst for 2h reason: x")
    result = ask_extension(desk.ctx, elevation_id, span=HOUR, reason="not done", person=desk.requester)
    assert result.outcome is GrantOutcome.EXTENSION_REQUESTED
    assert result.request is not None and result.request.verb == "extend"
    (unchanged, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert unchanged.ends_at == desk.clock.now() + 2 * HOUR, "nothing moves before approval"

    approved = approve(desk.ctx, result.request.id, approver=desk.other_approver).view
    assert approved is not None and approved.status is RequestStatus.APPLIED
    (extended, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert extended.ends_at == desk.clock.now() + 3 * HOUR
    assert desk.audit(result.request.id) == ["requested", "approved", "apply_started", "applied"]
    assert desk.audit(request_id := unchanged.request_id).count("elevation_extended") == 1, request_id


def test_self_extension_where_policy_allows_it(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(
        tmp_path,
        database_url=database_url,
        settings={"sandbox": SandboxSettings(approvers=("UBOB",), allow_self_extension=True)},
    )
    seed(desk, CONSUMER)
    elevation_id = elevate(desk, f"update {ANA} sandbox analyst for 2h reason: x")
    result = ask_extension(desk.ctx, elevation_id, span=HOUR, reason="x", person=desk.requester)
    assert result.outcome is GrantOutcome.EXTENDED


def test_an_extension_cannot_pass_the_longest_grant_policy_allows(consumer: Desk) -> None:
    elevation_id = elevate(consumer, f"update {ANA} sandbox admin for 6h reason: x")
    result = ask_extension(consumer.ctx, elevation_id, span=3 * HOUR, reason="x", person=consumer.approver)
    assert result.outcome is GrantOutcome.REFUSED
    assert "at most 8h for admin" in result.reason


def test_revoke_now_reverts_at_once_and_cancels_the_reminders(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox architect for 2d reason: x")
    result = end_now(desk.ctx, elevation_id, person=desk.requester)
    assert result.outcome is GrantOutcome.REVOKED
    assert access(desk) == CONSUMER
    assert result.grant is not None and result.grant.ended_by == "UALICE"
    desk.clock.advance(timedelta(days=3))
    report = sweep(desk.ctx)
    assert (report.reminded, report.reverted, report.failed) == (0, 0, 0)
    assert sent(desk, "reminder") == 0
    assert end_now(desk.ctx, elevation_id, person=desk.requester).outcome is GrantOutcome.ENDED


def test_strangers_cannot_revoke_extend_or_keep(consumer: Desk) -> None:
    elevation_id = elevate(consumer, f"update {ANA} sandbox admin for 2h reason: x")
    stranger = consumer.directory.add("UDAVE", "dave@client.example")
    assert end_now(consumer.ctx, elevation_id, person=stranger).outcome is GrantOutcome.REFUSED
    assert keep(consumer.ctx, elevation_id, person=stranger).outcome is GrantOutcome.REFUSED
    refused = ask_extension(consumer.ctx, elevation_id, span=HOUR, reason="x", person=stranger)
    assert refused.outcome is GrantOutcome.REFUSED
    assert access(consumer).account_role == "Admin"
    assert keep(consumer.ctx, elevation_id, person=consumer.requester).outcome is GrantOutcome.KEPT


def test_after_a_restart_past_expiry_the_revert_happens_at_once(
    consumer: Desk, tmp_path: Path, database_url: str
) -> None:
    elevation_id = elevate(consumer, f"update {ANA} sandbox architect for 2d reason: x")
    consumer.ctx.engine.dispose()  # the bot goes down...
    consumer.clock.advance(timedelta(days=5))
    restarted = make_desk(
        tmp_path, database_url=database_url, clock=consumer.clock
    )  # ...and comes back on the same database
    report = sweep(restarted.ctx)
    assert (report.reverted, report.reminded) == (1, 0), "no stale reminders for an access already past its end"
    assert access(restarted) == CONSUMER
    assert status(restarted, elevation_id) is GrantState.ENDED


def test_after_downtime_only_the_latest_missed_reminder_goes_out(consumer: Desk) -> None:
    elevate(consumer, f"update {ANA} sandbox architect for 2d reason: x")
    consumer.clock.advance(timedelta(days=2) - timedelta(minutes=30))
    assert sweep(consumer.ctx).reminded == 1
    assert sweep(consumer.ctx).reminded == 0


def test_two_bot_processes_on_one_database_revert_each_elevation_once(tmp_path: Path, database_url: str) -> None:
    first = make_desk(tmp_path, database_url=database_url, elevations=ElevationSettings(batch=5))
    second = make_desk(tmp_path, database_url=database_url, clock=first.clock, elevations=ElevationSettings(batch=5))
    people = [f"person{n}@agency.example" for n in range(24)]
    for email in people:
        first.ctx.platforms["sandbox"].apply(email, CONSUMER)
        request_id = first.submit(f"update {email} sandbox architect for 1h reason: x")
        approve_fully(first, request_id)
    first.clock.advance(HOUR)
    reports = []
    barrier = threading.Barrier(2)

    def run(desk: Desk) -> None:
        barrier.wait()
        reports.append(sweep(desk.ctx, worker=str(id(desk))))

    threads = [threading.Thread(target=run, args=(desk,)) for desk in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.reverted for report in reports) == len(people)
    assert all(first.ctx.platforms["sandbox"].get_access(email) == CONSUMER for email in people)
    with Session(first.ctx.engine) as session:
        reverted = session.exec(select(AuditEvent).where(AuditEvent.event == "reverted")).all()
    assert len(reverted) == len(people)
    assert len({event.request_id for event in reverted}) == len(people)


def test_a_failing_revert_is_retried_with_backoff_escalated_and_never_dropped(
    tmp_path: Path, database_url: str
) -> None:
    desk = make_desk(
        tmp_path, database_url=database_url, elevations=ElevationSettings(retry_initial_seconds=60, escalate_after=3)
    )
    seed(desk, CONSUMER)
    elevation_id = elevate(desk, f"update {ANA} sandbox admin for 1h reason: x")
    flaky = FlakyPlatform(desk.ctx.platforms["sandbox"], failures=3)
    desk.ctx = replace(desk.ctx, platforms={**desk.ctx.platforms, "sandbox": flaky})
    desk.clock.advance(HOUR)
    retries = []
    for attempt in range(1, 4):
        assert sweep(desk.ctx).failed == 1
        (elevation, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
        # Ended in the ledger, and still in place on the platform until a revert gets through.
        assert elevation.attempts == attempt and elevation.state is GrantState.ENDING
        assert "HTTP 503" in (elevation.last_error or "")
        assert elevation.next_attempt_at is not None
        wait = elevation.next_attempt_at - desk.clock.now()
        retries.append(wait)
        assert sweep(desk.ctx).failed == 0, "not before its next attempt"
        desk.clock.current = elevation.next_attempt_at
    assert timedelta(seconds=60) <= retries[0] <= timedelta(seconds=72)
    assert timedelta(seconds=120) <= retries[1] <= timedelta(seconds=144)
    assert timedelta(seconds=240) <= retries[2] <= timedelta(seconds=288)
    assert sent(desk, "failed") == 3
    assert [kind for kind, _ in desk.notifier.events].count("revert_escalated") == 1
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == CONSUMER


def test_a_crashed_workers_claim_is_taken_over_after_its_lease(consumer: Desk) -> None:
    desk = consumer
    elevate(desk, f"update {ANA} sandbox admin for 1h reason: x")
    desk.clock.advance(HOUR)
    lease = timedelta(seconds=desk.ctx.elevation_settings.lease_seconds)
    with session_scope(desk.ctx.engine) as session:
        claimed = claim_due_accounts(session=session, now=desk.clock.now(), token="crashed", limit=10, lease=lease)
    assert len(claimed) == 1  # ...and the worker dies here
    assert sweep(desk.ctx).reverted == 0, "the claim still holds"
    assert access(desk).account_role == "Admin"
    desk.clock.advance(lease)
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == CONSUMER
    assert "claim_taken_over" in [kind for kind in _all_events(desk)]


def _all_events(desk: Desk) -> list[str]:
    with Session(desk.ctx.engine) as session:
        return [event.event for event in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_overlapping_grants_the_first_to_expire_does_not_revoke_the_second(consumer: Desk) -> None:
    desk = consumer
    first = elevate(desk, f"update {ANA} sandbox admin for 2h reason: deploy")
    desk.clock.advance(HOUR)
    second = elevate(desk, f"update {ANA} sandbox admin for 4h reason: more work")
    desk.clock.advance(HOUR)
    assert sweep(desk.ctx).reverted == 1
    assert status(desk, first) is GrantState.ENDED
    assert access(desk).account_role == "Admin", "the second grant still holds"
    (ended, _) = load(desk.ctx, first)  # type: ignore[misc]
    assert ended.kept_for == {"account_role": second}
    desk.clock.advance(3 * HOUR)
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == CONSUMER


def test_drift_is_left_alone_and_flagged(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox admin on staging for 1h reason: x")
    # Someone changes the account role by hand on the platform meanwhile: not the elevation's part, so it keeps
    # everything it gave, and the change is adopted into the baseline and flagged.
    seed(desk, AccessState(member=True, account_role="Architect", scopes={"staging": "Admin"}))
    desk.clock.advance(HOUR)
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == AccessState(member=True, account_role="Architect")
    (ended, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert ended.drift == {} and ended.reverted == {"scope:staging": ("Admin", None)}
    assert [report.changes for report in desk.notifier.drifts] == [{"account_role": ("Consumer", "Architect")}]
    # A change by hand to what the elevation gave: the elevation stops holding it, and it stays as found.
    seed(desk, AccessState(member=True, account_role="Consumer"))
    second = elevate(desk, f"update {ANA} sandbox admin for 1h reason: x")
    seed(desk, AccessState(member=True, account_role="Architect"))
    desk.clock.advance(HOUR)
    sweep(desk.ctx)
    (drifted, _) = load(desk.ctx, second)  # type: ignore[misc]
    assert drifted.drift == {"account_role": ("Admin", "Architect")}
    assert drifted.state is GrantState.ENDED and drifted.end_reason is EndReason.DRIFT
    assert access(desk).account_role == "Architect"
    assert "drift_detected" in desk.audit(drifted.request_id)
    assert desk.notifier.drifts[-1].changes == {"account_role": ("Admin", "Architect")}


def test_a_later_permanent_change_by_the_bot_supersedes_the_elevation(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox architect for 2h reason: x")
    request_id = desk.submit(f"update {ANA} sandbox analyst reason: new role for good")
    approve_fully(desk, request_id)
    (superseded, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert superseded.state is GrantState.ENDED and superseded.end_reason is EndReason.SUPERSEDED
    desk.clock.advance(3 * HOUR)
    assert sweep(desk.ctx).reverted == 0
    assert access(desk).account_role == "Analyst"


def test_a_removal_supersedes_running_elevations(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox architect for 2h reason: x")
    request_id = desk.submit(f"remove {ANA} sandbox delete reason: left")
    approve_fully(desk, request_id)
    (removed, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert removed.state is GrantState.ENDED and removed.end_reason is EndReason.REMOVED
    assert live_views(desk.ctx) == []


def test_a_request_whose_end_passed_before_approval_expires_instead(consumer: Desk) -> None:
    request_id = consumer.submit(f"update {ANA} sandbox admin until 2026-11-22 12:00 reason: x")
    consumer.clock.advance(timedelta(days=1))
    result = approve(consumer.ctx, request_id, approver=consumer.approver)
    assert result.outcome is Outcome.EXPIRED
    assert result.view is not None and result.view.status is RequestStatus.EXPIRED
    assert access(consumer) == CONSUMER


def test_the_scheduler_is_told_the_next_moment_anything_is_due(consumer: Desk) -> None:
    elevate(consumer, f"update {ANA} sandbox architect for 2d reason: x")
    start = consumer.clock.now()
    assert next_moment(consumer.ctx) == start + timedelta(days=1)
    consumer.clock.advance(timedelta(days=1))
    sweep(consumer.ctx)
    assert next_moment(consumer.ctx) == start + timedelta(days=2) - HOUR
    consumer.clock.advance(timedelta(days=1))
    sweep(consumer.ctx)
    assert next_moment(consumer.ctx) is None
    assert access(consumer) == CONSUMER


def test_the_system_clock_under_freezegun(tmp_path: Path, database_url: str) -> None:
    with freeze_time("2026-11-22 09:00:00", tz_offset=0) as frozen:
        desk = make_desk(tmp_path, database_url=database_url)
        desk.ctx = replace(desk.ctx, clock=SystemClock())
        seed(desk, CONSUMER)
        elevation_id = elevate(desk, f"update {ANA} sandbox admin for 1h reason: x")
        frozen.tick(timedelta(minutes=59))
        assert sweep(desk.ctx).reverted == 0
        frozen.tick(timedelta(minutes=1))
        assert sweep(desk.ctx).reverted == 1
        with Session(desk.ctx.engine) as session:
            row = get_grant(session=session, grant_id=elevation_id)
            assert row is not None and row.ended_at is not None
            assert row.ended_at.isoformat() == "2026-11-22T10:00:00+00:00"


def test_a_due_reminder_is_claimed_by_one_caller_only(consumer: Desk) -> None:
    elevation_id = elevate(consumer, f"update {ANA} sandbox architect for 2d reason: x")
    consumer.clock.advance(timedelta(days=1))
    with Session(consumer.ctx.engine) as session:
        row = get_grant(session=session, grant_id=elevation_id)
        assert row is not None and row.next_remind_at is not None
        due_at = row.next_remind_at
    claims = []
    for _ in range(2):
        with session_scope(consumer.ctx.engine) as session:
            claims.append(
                claim_reminder(
                    session=session, grant_id=elevation_id, due_at=due_at, following=None, now=consumer.clock.now()
                )
            )
    assert claims == [True, False]


def test_two_processes_sweeping_at_reminder_time_send_it_once(tmp_path: Path, database_url: str) -> None:
    first = make_desk(tmp_path, database_url=database_url)
    second = make_desk(tmp_path, database_url=database_url, clock=first.clock)
    seed(first, CONSUMER)
    elevate(first, f"update {ANA} sandbox architect for 2d reason: x")
    first.clock.advance(timedelta(days=1))
    barrier = threading.Barrier(2)
    reports = []

    def run(desk: Desk) -> None:
        barrier.wait()
        reports.append(sweep(desk.ctx))

    threads = [threading.Thread(target=run, args=(desk,)) for desk in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.reminded for report in reports) == 1
    assert sent(first, "reminder") + sent(second, "reminder") == 1


def test_revoke_now_during_a_platform_outage_says_so_and_the_sweep_finishes_it(consumer: Desk) -> None:
    desk = consumer
    elevation_id = elevate(desk, f"update {ANA} sandbox architect for 2d reason: x")
    flaky = FlakyPlatform(desk.ctx.platforms["sandbox"], failures=1)
    desk.ctx = replace(desk.ctx, platforms={**desk.ctx.platforms, "sandbox": flaky})
    result = end_now(desk.ctx, elevation_id, person=desk.requester)
    assert result.outcome is GrantOutcome.REVOKE_PENDING and "HTTP 503" in result.reason
    assert access(desk).account_role == "Architect"
    desk.clock.advance(timedelta(minutes=2))
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == CONSUMER
    (ended, _) = load(desk.ctx, elevation_id)  # type: ignore[misc]
    assert ended.ended_by == "UALICE", "who ended it, though the bot finished the revert later"
    assert desk.audit(ended.request_id).count("elevation_revoked_early") == 1


class CallLog(FlakyPlatform):
    """A platform that answers one call at a time (as a vendor's API does) and notes each call in order."""

    def __init__(self, inner: Platform) -> None:
        super().__init__(inner)
        self.concurrency = 1
        self.calls: list[str] = []

    def get_access(self, email: str) -> AccessState:
        self.calls.append("read")
        return super().get_access(email)

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        self.calls.append("apply")
        return super().apply(email, desired)


def twenty_elevated(tmp_path: Path, database_url: str) -> tuple[Desk, list[str]]:
    """Twenty people each with an hour's elevation, on a bot that claims up to fifty due accounts at once."""
    desk = make_desk(tmp_path, database_url=database_url, elevations=ElevationSettings(batch=50))
    people = [f"person{n}@agency.example" for n in range(20)]
    for email in people:
        desk.ctx.platforms["sandbox"].apply(email, CONSUMER)
        approve_fully(desk, desk.submit(f"update {email} sandbox architect for 1h reason: x"))
    return desk, people


def test_a_platform_that_takes_a_call_per_member_reverts_a_chunk_at_a_time(tmp_path: Path, database_url: str) -> None:
    """A batch of reverts on a platform with its own calls goes a few rounds of its bulkhead at a time: the first
    revert reaches the platform after a few reads, not after every account of the batch has been read."""
    desk, people = twenty_elevated(tmp_path, database_url)
    platform = CallLog(desk.ctx.platforms["sandbox"])
    desk.ctx = replace(desk.ctx, platforms={**desk.ctx.platforms, "sandbox": platform})
    desk.clock.advance(HOUR)
    assert sweep(desk.ctx).reverted == len(people)
    chunk = platform.chunk
    assert chunk is not None and chunk < len(people)
    assert platform.calls.index("apply") == chunk, "the first chunk is applied right after it is read"
    assert platform.calls.count("apply") == len(people)
    assert all(desk.ctx.platforms["sandbox"].get_access(email) == CONSUMER for email in people)


def test_a_batch_that_breaks_part_way_lets_go_of_every_account_it_claimed(tmp_path: Path, database_url: str) -> None:
    desk, _ = twenty_elevated(tmp_path, database_url)
    platform = CallLog(desk.ctx.platforms["sandbox"])

    def broken(emails: object) -> dict[str, AccessState | PlatformError]:
        raise RuntimeError("a bug in a client")

    platform.read_many = broken  # type: ignore[method-assign]
    desk.ctx = replace(desk.ctx, platforms={**desk.ctx.platforms, "sandbox": platform})
    desk.clock.advance(HOUR)
    with pytest.raises(RuntimeError):
        sweep(desk.ctx)
    with Session(desk.ctx.engine) as session:
        held = session.exec(select(PlatformAccount).where(col(PlatformAccount.claimed_by).is_not(None))).all()
    assert held == [], "no account waits a lease for a batch that stopped"
