"""The scheduler keeps only in-memory timers, rebuilt from the elevation rows at every start."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.scheduler import SWEEPER_JOB, ElevationScheduler
from domain.access import AccessState
from domain.elevation import ElevationStatus
from services.decisions import approve
from services.elevations import load
from tests.fakes import FakeClock
from tests.services.desk import ANA, Desk, make_desk, seed

CONSUMER = AccessState(member=True, account_role="Consumer")


def started(tmp_path: Path, *people: str) -> tuple[Desk, list[int]]:
    desk = make_desk(tmp_path, clock=FakeClock(datetime.now(UTC)))
    ids = []
    for email in people or (ANA,):
        desk.ctx.platforms["sandbox"].apply(email, CONSUMER)
        request_id = desk.submit(f"update {email} sandbox architect for 2d reason: x")
        view = approve(desk.ctx, request_id, approver=desk.approver).view
        assert view is not None
        ids.append(view.elevations[0].id)
    return desk, ids


def test_start_rebuilds_one_timer_per_live_elevation_with_stable_ids(tmp_path: Path) -> None:
    desk, (first, second) = started(tmp_path, "a@agency.example", "b@agency.example")
    scheduler = ElevationScheduler(sweep_seconds=3600)
    scheduler.bind(desk.ctx)
    scheduler.start()
    try:
        assert scheduler.job_ids() == [f"elevation:{first}", f"elevation:{second}", SWEEPER_JOB]
        scheduler.elevation_due(first, None)
        assert scheduler.job_ids() == [f"elevation:{second}", SWEEPER_JOB]
        scheduler.elevation_due(second, datetime.now(UTC) + timedelta(days=9))
        scheduler.elevation_due(second, datetime.now(UTC) + timedelta(days=8))
        assert scheduler.job_ids().count(f"elevation:{second}") == 1, "replace_existing keeps one timer per id"
    finally:
        scheduler.shutdown()
    again = ElevationScheduler(sweep_seconds=3600)
    again.bind(desk.ctx)
    assert again.rebuild() == 2


def test_an_elevation_overdue_at_start_is_reverted_by_the_first_sweep(tmp_path: Path) -> None:
    desk, (elevation_id,) = started(tmp_path)
    desk.clock.advance(timedelta(days=3))  # the bot was down when it expired
    scheduler = ElevationScheduler(sweep_seconds=3600)
    scheduler.bind(desk.ctx)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while load(desk.ctx, elevation_id)[0].status is not ElevationStatus.REVERTED:  # type: ignore[index]
            assert time.monotonic() < deadline, "the start-up sweep did not revert the overdue elevation"
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    assert desk.ctx.platforms["sandbox"].get_access(ANA) == CONSUMER
    assert scheduler.last_sweep is not None


def test_new_elevations_get_a_timer_through_the_services(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, clock=FakeClock(datetime.now(UTC)))
    scheduler = ElevationScheduler(sweep_seconds=3600)
    desk.ctx = replace(desk.ctx, timers=scheduler)
    scheduler.bind(desk.ctx)
    seed(desk, CONSUMER)
    request_id = desk.submit(f"update {ANA} sandbox architect for 2d reason: x")
    view = approve(desk.ctx, request_id, approver=desk.approver).view
    assert view is not None
    assert scheduler.job_ids() == [f"elevation:{view.elevations[0].id}"]
