"""The scheduler keeps two in-memory jobs whatever the database holds: the periodic sweep, and one wake-up at the
next moment something is due."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.scheduler import NEXT_DUE_JOB, SWEEPER_JOB, Scheduler
from domain.access import AccessState
from domain.ledger import GrantState
from services.decisions import approve
from services.grants import load
from services.ports import SystemClock
from services.sweeper import SweepReport
from storage.db import session_scope
from storage.models import Grant, PlatformAccount
from tests.fakes import FakeClock
from tests.services.desk import ANA, Desk, make_desk, seed

CONSUMER = AccessState(member=True, account_role="Consumer")


def started(tmp_path: Path, *people: str, span: str = "2d") -> tuple[Desk, list[int]]:
    desk = make_desk(tmp_path, clock=FakeClock(datetime.now(UTC)))
    ids = []
    for email in people or (ANA,):
        desk.ctx.platforms["sandbox"].apply(email, CONSUMER)
        request_id = desk.submit(f"update {email} sandbox architect for {span} reason: x")
        view = approve(desk.ctx, request_id, approver=desk.approver).view
        assert view is not None
        ids.append(view.elevations[0].id)
    return desk, ids


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.02)


def next_due_at(scheduler: Scheduler) -> datetime | None:
    job = scheduler._scheduler.get_job(NEXT_DUE_JOB)
    return job.next_run_time if job is not None else None


def test_one_timer_however_many_grants_are_pending(tmp_path: Path) -> None:
    desk, _ = started(tmp_path, *(f"person{n}@agency.example" for n in range(5)))
    scheduler = Scheduler(sweep_seconds=3600)
    scheduler.bind(desk.ctx)
    scheduler.start()
    try:
        wait_for(lambda: scheduler.last_sweep is not None, "the start-up sweep")
        assert scheduler.job_ids() == [NEXT_DUE_JOB, SWEEPER_JOB]
        first_reminder = desk.clock.now() + timedelta(days=1)
        assert next_due_at(scheduler) is not None
        assert abs((next_due_at(scheduler) - first_reminder).total_seconds()) < 60  # type: ignore[operator]
        later = first_reminder + timedelta(hours=5)
        scheduler.due(later)
        assert abs((next_due_at(scheduler) - first_reminder).total_seconds()) < 60, "a later moment waits"  # type: ignore[operator]
        earlier = datetime.now(UTC) + timedelta(hours=1)
        scheduler.due(earlier)
        assert next_due_at(scheduler) == earlier, "an earlier moment moves the one timer"
        assert scheduler.job_ids() == [NEXT_DUE_JOB, SWEEPER_JOB]
    finally:
        scheduler.shutdown()


def test_an_elevation_overdue_at_start_is_reverted_by_the_first_sweep(tmp_path: Path) -> None:
    desk, (elevation_id,) = started(tmp_path)
    desk.clock.advance(timedelta(days=3))  # the bot was down when it expired
    scheduler = Scheduler(sweep_seconds=3600)
    scheduler.bind(desk.ctx)
    scheduler.start()
    try:
        wait_for(
            lambda: load(desk.ctx, elevation_id)[0].state is GrantState.ENDED,  # type: ignore[index]
            "the start-up sweep to revert the overdue elevation",
        )
    finally:
        scheduler.shutdown()
    assert desk.ctx.platforms["sandbox"].get_access(ANA) == CONSUMER
    assert scheduler.last_sweep is not None


def test_a_new_grant_arms_the_timer_through_the_services(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, clock=FakeClock(datetime.now(UTC)))
    scheduler = Scheduler(sweep_seconds=3600)
    desk.ctx = replace(desk.ctx, timers=scheduler)
    scheduler.bind(desk.ctx)
    scheduler._scheduler.start(paused=True)  # jobs are added, none runs
    try:
        seed(desk, CONSUMER)
        request_id = desk.submit(f"update {ANA} sandbox architect for 2d reason: x")
        approve(desk.ctx, request_id, approver=desk.approver)
        assert scheduler.job_ids() == [NEXT_DUE_JOB]
        assert next_due_at(scheduler) == desk.clock.now() + timedelta(days=1), "its first reminder"
    finally:
        scheduler.shutdown()


def test_the_timer_reverts_on_time_without_waiting_for_the_sweep(tmp_path: Path) -> None:
    desk = make_desk(tmp_path)
    desk.ctx = replace(desk.ctx, clock=SystemClock())
    scheduler = Scheduler(sweep_seconds=3600)  # the periodic sweep will not come in time
    desk.ctx = replace(desk.ctx, timers=scheduler)
    scheduler.bind(desk.ctx)
    seed(desk, CONSUMER)
    request_id = desk.submit(f"update {ANA} sandbox architect for 2h reason: x")
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None
    scheduler.start()
    try:
        wait_for(lambda: scheduler.last_sweep is not None, "the start-up sweep")
        ends_at = datetime.now(UTC) + timedelta(seconds=1)
        with session_scope(desk.ctx.engine) as session:  # the two hours are nearly up
            session.exec(update(Grant).values(ends_at=ends_at, next_remind_at=None))
            session.exec(update(PlatformAccount).values(due_at=ends_at))
        scheduler.due(ends_at)
        grant_id = view.elevations[0].id
        wait_for(lambda: load(desk.ctx, grant_id)[0].state is GrantState.ENDED, "the revert at the end")  # type: ignore[index]
        assert desk.ctx.platforms["sandbox"].get_access(ANA) == CONSUMER
        ended = load(desk.ctx, grant_id)
        assert ended is not None and ended[0].ended_at is not None
        assert ended[0].ended_at - ends_at < timedelta(seconds=5)
    finally:
        scheduler.shutdown()


def test_slack_taking_its_time_never_holds_a_revert_up(tmp_path: Path) -> None:
    """What the sweep leaves for Slack (kept messages, card redraws) is delivered beside the sweeps: a delivery that
    waits out a long Retry-After, or hangs, does not stop the next revert from happening on time."""
    desk = make_desk(tmp_path)
    desk.ctx = replace(desk.ctx, clock=SystemClock())
    scheduler = Scheduler(sweep_seconds=3600)
    desk.ctx = replace(desk.ctx, timers=scheduler)
    slack_answers = threading.Event()
    deliveries: list[float] = []

    def deliver() -> None:  # Slack said to come back later, and the client waits as told
        deliveries.append(time.monotonic())
        slack_answers.wait(timeout=60)

    scheduler.bind(desk.ctx, after_sweep=deliver)
    seed(desk, CONSUMER)
    view = approve(desk.ctx, desk.submit(f"update {ANA} sandbox architect for 2h reason: x"), approver=desk.approver)
    assert view.view is not None
    scheduler.start()
    try:
        wait_for(lambda: deliveries, "the start-up sweep's delivery")
        ends_at = datetime.now(UTC) + timedelta(seconds=1)
        with session_scope(desk.ctx.engine) as session:
            session.exec(update(Grant).values(ends_at=ends_at, next_remind_at=None))
            session.exec(update(PlatformAccount).values(due_at=ends_at))
        scheduler.due(ends_at)
        grant_id = view.view.elevations[0].id
        wait_for(lambda: load(desk.ctx, grant_id)[0].state is GrantState.ENDED, "the revert, while Slack waits")  # type: ignore[index]
        assert desk.ctx.platforms["sandbox"].get_access(ANA) == CONSUMER
        assert len(deliveries) == 1, "one delivery at a time; the next starts once this one is done"
        slack_answers.set()
        wait_for(lambda: len(deliveries) == 2, "the delivery asked for meanwhile, once the first is done")
    finally:
        slack_answers.set()
        scheduler.shutdown()


def test_swept_waits_for_a_sweep_that_began_after_it_was_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep that was running when a caller (the console, a test) moved the clock may have read the clock before
    the move: `swept` waits for one that began afterwards."""
    desk = make_desk(tmp_path)
    scheduler = Scheduler(sweep_seconds=3600)
    scheduler.bind(desk.ctx)
    began: list[float] = []
    first_may_end = threading.Event()

    def sweep(ctx: object, *, worker: str) -> SweepReport:
        began.append(time.monotonic())
        if len(began) == 1:
            first_may_end.wait(timeout=30)
        return SweepReport()

    monkeypatch.setattr("bot.scheduler.sweep", sweep)
    running = threading.Thread(target=scheduler.sweep_now)
    running.start()
    wait_for(lambda: began, "the first sweep")
    asked = time.monotonic()
    results: list[tuple[bool, float]] = []
    waiter = threading.Thread(target=lambda: results.append((scheduler.swept(timeout=30), time.monotonic())))
    waiter.start()
    wait_for(lambda: scheduler._again, "the running sweep to be asked to look once more")
    first_may_end.set()
    waiter.join(timeout=30)
    running.join(timeout=30)
    [(done, returned)] = results
    assert done and len(began) == 2 and began[1] > asked, "a second sweep began after it was asked"
    assert returned > began[1], "and it returned only once that sweep had run"
