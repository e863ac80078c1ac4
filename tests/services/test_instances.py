"""Several bot processes on one database (each desk here has its own engine and platform clients, as a process
would), on SQLite and on PostgreSQL: every approval applied once, and what a dead process left half-done is taken
over after the lease."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from domain.access import AccessState
from domain.lifecycle import ChangeStatus, RequestEvent, RequestStatus
from platforms.base import ApplyResult, Platform
from services.decisions import Outcome, approve
from services.ports import Person
from services.settings import ElevationSettings
from services.sweeper import sweep
from storage.db import session_scope
from storage.requests import transition_request
from tests.fakes import FlakyPlatform, Killed
from tests.services.desk import ANA, Desk, access, make_desk

LEASE = timedelta(seconds=ElevationSettings().lease_seconds)


class DiesWhileApplying(FlakyPlatform):
    """Dies once, either before the platform got the change or right after it (before the bot could record it)."""

    def __init__(self, inner: Platform, *, after_applying: bool) -> None:
        super().__init__(inner)
        self.after_applying = after_applying
        self.deaths = 1

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        if self.deaths and not self.after_applying:
            self.deaths -= 1
            raise Killed
        result = super().apply(email, desired)
        if self.deaths:
            self.deaths -= 1
            raise Killed
        return result


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> tuple[Desk, Desk]:
    first = make_desk(tmp_path, database_url=database_url, sandbox=0)
    second = make_desk(tmp_path, database_url=database_url, clock=first.clock, sandbox=0)
    return first, second


def applies(*desks: Desk) -> int:
    total = 0
    for desk in desks:
        platform = desk.ctx.platforms["sandbox"]
        assert isinstance(platform, FlakyPlatform)
        total += platform.applies
    return total


def at_once(*calls: tuple[Desk, Person], request_id: int = 1) -> list[Outcome]:
    """Everyone clicks Approve on request `request_id` at the same moment, each on their own instance."""
    results: list[Outcome] = []
    barrier = threading.Barrier(len(calls))

    def click(desk: Desk, person: Person) -> None:
        barrier.wait()
        results.append(approve(desk.ctx, request_id, approver=person).outcome)

    threads = [threading.Thread(target=click, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_approvals_clicked_on_two_instances_at_once_apply_once(pair: tuple[Desk, Desk]) -> None:
    first, second = pair
    assert first.submit(f"add {ANA} sandbox viewer on production reason: x") == 1
    results = at_once(*[(desk, person) for desk in pair for person in (first.approver, first.other_approver)] * 3)
    assert sorted(results) == sorted([Outcome.DONE] + [Outcome.ALREADY_DECIDED] * 11)
    assert applies(first, second) == 1
    assert first.audit(1).count("applied") == 1 and first.audit(1).count("approved") == 1
    assert access(second) == AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"})


def test_two_approvals_given_on_two_instances_at_once_count_both_and_apply_once(pair: tuple[Desk, Desk]) -> None:
    first, second = pair
    first.submit(f"add {ANA} sandbox admin reason: incident review")  # an Admin grant needs two approvers
    results = at_once((first, first.approver), (second, first.other_approver))
    assert sorted(results) == sorted([Outcome.RECORDED, Outcome.DONE])
    view = second.ctx.load_view(1)
    assert view is not None and view.status is RequestStatus.APPLIED
    assert sorted(view.approvals) == ["UBOB", "UCAROL"]
    assert applies(first, second) == 1


@pytest.mark.parametrize("after_applying", [False, True], ids=["before-the-platform-call", "after-it"])
def test_a_change_whose_process_died_mid_apply_is_finished_by_another_after_the_lease(
    tmp_path: Path, database_url: str, after_applying: bool
) -> None:
    dying = make_desk(tmp_path, database_url=database_url)
    dying.ctx.platforms["sandbox"] = DiesWhileApplying(dying.ctx.platforms["sandbox"], after_applying=after_applying)  # type: ignore[index]
    survivor = make_desk(tmp_path, database_url=database_url, clock=dying.clock, sandbox=0)
    dying.submit(f"add {ANA} sandbox viewer on production for 2h reason: x")
    with pytest.raises(Killed):
        approve(dying.ctx, 1, approver=dying.approver)
    view = survivor.ctx.load_view(1)
    assert view is not None and view.status is RequestStatus.APPLYING
    assert view.changes[0].status is ChangeStatus.APPLYING
    assert "reconcile_planned" in survivor.audit(1), "the plan was written before the platform was called"

    dying.clock.advance(LEASE - timedelta(seconds=1))
    assert sweep(survivor.ctx).reverted == 0
    view = survivor.ctx.load_view(1)
    assert view is not None and view.status is RequestStatus.APPLYING, "within the lease the claim may still be alive"
    dying.clock.advance(timedelta(seconds=2))
    sweep(survivor.ctx)
    # The survivor reads the platform and finishes the change instead of guessing: applied, once, and temporary.
    view = survivor.ctx.load_view(1)
    assert view is not None and view.status is RequestStatus.APPLIED
    assert access(survivor) == AccessState(member=True, account_role="Consumer", scopes={"production": "Viewer"})
    trail = survivor.audit(1)
    assert trail.count("applied") == 1 and "failed" not in trail
    assert [grant.state.value for grant in view.grants] == ["active"]
    assert survivor.notifier.kinds()[-1] == "concluded"
    # ...and the temporary access still ends on time, taking away exactly what it gave.
    dying.clock.advance(timedelta(hours=2))
    assert sweep(survivor.ctx).reverted == 1
    assert access(survivor) == AccessState.absent()


def test_an_approved_request_whose_process_died_before_starting_it_is_started(pair: tuple[Desk, Desk]) -> None:
    first, second = pair
    first.submit(f"add {ANA} sandbox viewer on production reason: x")
    with session_scope(first.ctx.engine) as session:  # the decision committed; the process died right after
        transition_request(
            session=session, request_id=1, event=RequestEvent.APPROVE, at=first.clock.now(), decided_by="UBOB"
        )
    assert sweep(second.ctx).recovered == 0
    first.clock.advance(LEASE + timedelta(seconds=1))
    assert sweep(second.ctx).recovered == 1
    view = second.ctx.load_view(1)
    assert view is not None and view.status is RequestStatus.APPLIED
    assert applies(first, second) == 1
    assert second.audit(1).count("applied") == 1
