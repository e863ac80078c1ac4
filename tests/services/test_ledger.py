"""The grant ledger's promise, case by case: what a person holds is what was approved, temporary access takes away
only what it gave, and neither a crash, a retry, a slow platform nor two clicks at once changes that.

Each test is one of the reproductions that broke the promise before the ledger (see the README's temporary-access
section for the rules they pin).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from domain.access import AccessState
from domain.commands import GrantCommand
from domain.ledger import EndReason, GrantState
from domain.lifecycle import RequestStatus
from domain.policy import BreakGlass, GuardRails, PolicyConfig, Rule, RuleMatch
from platforms.base import ApplyResult, Platform, PlatformUnavailable
from platforms.settings import SandboxSettings
from services import break_glass, grant_actions, reconcile
from services.context import RequestRefused, ServiceContext
from services.decisions import Outcome, approve, retry
from services.grant_actions import GrantOutcome, ask_extension, end_now, keep
from services.grants import live_views, load
from services.reconcile import drain, outcome
from services.settings import ElevationSettings
from services.sweeper import sweep
from storage.db import session_scope
from storage.ledger import claim, get_grant, release
from storage.models import AuditEvent, PlatformAccount
from tests.fakes import FakeClock, FlakyPlatform, Killed
from tests.services.desk import ANA, Desk, access, approve_fully, make_desk, seed
from tests.waiting import wait_until

HOUR = timedelta(hours=1)
ANALYST = AccessState(member=True, account_role="Analyst")


def applied(desk: Desk, text: str) -> int:
    request_id = desk.submit(text)
    view = approve_fully(desk, request_id)
    assert view.status is RequestStatus.APPLIED, view
    return request_id


def grant_of(desk: Desk, request_id: int) -> int:
    view = desk.ctx.load_view(request_id)
    assert view is not None and view.grants
    return view.grants[0].id


def events(desk: Desk) -> list[str]:
    with Session(desk.ctx.engine) as session:
        return [row.event for row in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def together(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment, each on its own thread, and return what each returned or raised."""
    results: list[object] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Desk:
    return make_desk(tmp_path, database_url=database_url)


# --- 1. an ending elevation never undoes a later permanent change ----------------------------------------------


def test_an_ending_elevation_leaves_a_later_permanent_grant_in_place(desk: Desk) -> None:
    elevation = applied(desk, f"add {ANA} sandbox viewer on staging for 2m reason: look around")
    permanent = applied(desk, f"update {ANA} sandbox architect reason: joins the data team")
    desk.clock.advance(timedelta(minutes=2))
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == AccessState(member=True, account_role="Architect"), "the permanent grant stays"
    assert desk.ctx.load_view(permanent).status is RequestStatus.APPLIED  # type: ignore[union-attr]
    (ended, _) = load(desk.ctx, grant_of(desk, elevation))  # type: ignore[misc]
    assert ended.state is GrantState.ENDED
    assert ended.reverted == {"scope:staging": ("Viewer", None)}
    # The permanent grant took the account role over when it was applied, and it keeps the membership it needs.
    assert ended.kept_for == {"member": grant_of(desk, permanent)}


def test_an_ending_elevation_never_deletes_an_account_a_revoke_decided_to_keep(desk: Desk) -> None:
    applied(desk, f"add {ANA} sandbox admin on staging for 2m reason: look around")
    applied(desk, f"remove {ANA} sandbox revoke reason: engagement over")
    lowest = AccessState(member=True, account_role=desk.ctx.catalogs["sandbox"].lowest_account_role)
    assert access(desk) == lowest
    desk.clock.advance(timedelta(minutes=2))
    sweep(desk.ctx)
    assert access(desk) == lowest, "the account the revoke kept is still there"
    assert live_views(desk.ctx) == []


# --- 2. a crash or a lying failure, then Retry, never makes temporary access permanent --------------------------


class AppliesThenFails(FlakyPlatform):
    """The change lands, then the answer is lost (a time-out after the platform wrote it)."""

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        result = self.inner.apply(email, desired)
        with self._lock:
            self.applies += 1
            if self.failures > 0:
                self.failures -= 1
                raise PlatformUnavailable(self.name, "timed out waiting for the platform's answer")
        return result


def test_retry_after_a_change_that_landed_unrecorded_still_ends_at_the_original_access(
    tmp_path: Path, database_url: str
) -> None:
    desk = make_desk(tmp_path, database_url=database_url)
    desk.ctx = replace(
        desk.ctx,
        platforms={**desk.ctx.platforms, "sandbox": AppliesThenFails(desk.ctx.platforms["sandbox"], failures=1)},
    )
    seed(desk, ANALYST)
    request_id = desk.submit(f"update {ANA} sandbox architect for 2m reason: one-off")
    failed = approve(desk.ctx, request_id, approver=desk.approver).view
    assert failed is not None and failed.status is RequestStatus.FAILED
    assert access(desk).account_role == "Architect", "it landed, though the bot could not know"
    done = retry(desk.ctx, request_id, actor=desk.approver).view
    assert done is not None and done.status is RequestStatus.APPLIED
    desk.clock.advance(timedelta(minutes=2))
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == ANALYST, "back to what they had before the first attempt"
    assert "drift_detected" not in events(desk), "what the bot did itself is never taken for drift"


def test_a_failed_change_that_landed_part_way_is_undone_before_anyone_retries(
    tmp_path: Path, database_url: str
) -> None:
    desk = make_desk(tmp_path, database_url=database_url)
    desk.ctx = replace(
        desk.ctx,
        platforms={**desk.ctx.platforms, "sandbox": AppliesThenFails(desk.ctx.platforms["sandbox"], failures=1)},
    )
    seed(desk, ANALYST)
    request_id = desk.submit(f"update {ANA} sandbox architect reason: x")
    failed = approve(desk.ctx, request_id, approver=desk.approver).view
    assert failed is not None and failed.status is RequestStatus.FAILED
    desk.clock.advance(timedelta(seconds=desk.ctx.elevation_settings.retry_initial_seconds * 1.3))
    sweep(desk.ctx)
    assert access(desk) == ANALYST, "nothing approved stays half-applied"
    assert desk.ctx.load_view(request_id).status is RequestStatus.FAILED  # type: ignore[union-attr]


# --- 3. a slow platform call never loses its claim, and a stale one never records --------------------------------


class Gated(FlakyPlatform):
    """Holds every apply until the test opens the gate: a platform that takes its time."""

    def __init__(self, inner: Platform) -> None:
        super().__init__(inner)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return super().apply(email, desired)


def the_account(desk: Desk) -> PlatformAccount:
    """The one account these tests work on, as the database has it now."""
    with Session(desk.ctx.engine) as session:
        return session.exec(select(PlatformAccount)).one()


@pytest.mark.parametrize("renewing", [True, False], ids=["renewed", "renewal-lost"])
def test_a_platform_call_slower_than_the_lease(tmp_path: Path, database_url: str, renewing: bool) -> None:
    settings = ElevationSettings(lease_seconds=1)
    slow = make_desk(tmp_path, database_url=database_url, elevations=settings)
    gated = Gated(slow.ctx.platforms["sandbox"])
    slow.ctx = replace(slow.ctx, platforms={**slow.ctx.platforms, "sandbox": gated})
    other = make_desk(tmp_path, database_url=database_url, clock=slow.clock, elevations=settings)
    seed(slow, ANALYST)
    request_id = slow.submit(f"update {ANA} sandbox architect for 2h reason: x")
    if not renewing:
        slow.ctx.leases.stop()  # the holder can no longer reach the database to renew, say
    thread = threading.Thread(target=approve, args=(slow.ctx, request_id), kwargs={"approver": slow.approver})
    thread.start()
    assert gated.entered.wait(20)
    first_lease = the_account(slow).lease_until
    slow.clock.advance(timedelta(seconds=5))  # well past the lease
    if renewing:
        wait_until(lambda: the_account(slow).lease_until != first_lease, "the holder to renew its lease")
    sweep(other.ctx)
    gated.gate.set()
    thread.join(30)
    assert not thread.is_alive()
    view = other.ctx.load_view(request_id)
    assert view is not None and view.status is RequestStatus.APPLIED
    assert [grant.state for grant in view.grants] == [GrantState.ACTIVE], "one grant, never two"
    trail = other.audit(request_id)
    assert trail.count("applied") == 1 and "failed" not in trail
    assert ("claim_taken_over" in events(other)) is not renewing
    assert access(other).account_role == "Architect"
    slow.clock.advance(2 * HOUR)
    assert sweep(other.ctx).reverted == 1
    assert access(other) == ANALYST


class ReadsLongThenDies(FlakyPlatform):
    """A holder that spends part of its lease reading the platform (its renewals not reaching the database), then
    plans, applies, and dies before it can record what it did."""

    def __init__(self, inner: Platform, clock: FakeClock, reading: timedelta) -> None:
        super().__init__(inner)
        self.clock, self.reading = clock, reading

    def get_access(self, email: str) -> AccessState:
        self.clock.advance(self.reading)
        return super().get_access(email)

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        self.inner.apply(email, desired)
        raise Killed


def test_a_take_over_finishes_the_revert_its_holder_planned_late_in_its_lease(
    tmp_path: Path, database_url: str
) -> None:
    """The holder planned the revert (so the account is next due a lease after that) and died before recording it.
    Its lease runs out earlier than that: whoever takes the claim over then must finish the revert at once, not let
    the account go untouched until it is due again."""
    dying = make_desk(tmp_path, database_url=database_url)
    other = make_desk(tmp_path, database_url=database_url, clock=dying.clock)
    seed(dying, ANALYST)
    elevation = grant_of(dying, applied(dying, f"update {ANA} sandbox architect for 2h reason: QA"))
    lease = dying.ctx.leases.lease
    platform = ReadsLongThenDies(dying.ctx.platforms["sandbox"], dying.clock, reading=lease / 2)
    dying.ctx = replace(dying.ctx, platforms={**dying.ctx.platforms, "sandbox": platform})
    dying.clock.advance(2 * HOUR)
    account = the_account(dying).id
    assert account is not None
    with pytest.raises(Killed):  # a revoke's or an approval's own step, say, which works under a claim of its own
        drain(dying.ctx, account, worker="dying")
    assert access(other) == ANALYST, "the revert reached the platform"
    dying.clock.advance(lease / 2 + timedelta(seconds=1))  # past the lease, not yet a lease after the plan
    report = sweep(other.ctx)
    assert report.reverted == 1, report
    (ended, _) = load(other.ctx, elevation)  # type: ignore[misc]
    assert ended.state is GrantState.ENDED
    assert [kind for kind, view in other.notifier.elevations if view.id == elevation] == ["ended"]
    assert "claim_taken_over" in events(other)


def test_a_revoke_pressed_while_another_change_is_on_its_way_still_takes_the_access_away(
    tmp_path: Path, database_url: str
) -> None:
    busy = make_desk(tmp_path, database_url=database_url)
    gated = Gated(busy.ctx.platforms["sandbox"])
    gated.gate.set()
    busy.ctx = replace(busy.ctx, platforms={**busy.ctx.platforms, "sandbox": gated})
    other = make_desk(tmp_path, database_url=database_url, clock=busy.clock)
    seed(busy, ANALYST)
    elevation = grant_of(busy, applied(busy, f"update {ANA} sandbox architect for 2h reason: QA"))
    gated.gate.clear()
    gated.entered.clear()
    permanent = busy.submit(f"add {ANA} sandbox viewer on staging reason: joins the team")
    approving = threading.Thread(target=approve_fully, args=(busy, permanent))
    approving.start()
    assert gated.entered.wait(20), "the permanent change never reached the platform"
    # The change on its way was planned with the elevation live; the revoke lands before it is recorded.
    answer: list[object] = []
    revoking = threading.Thread(target=lambda: answer.append(end_now(other.ctx, elevation, person=other.approver)))
    revoking.start()
    wait_until(lambda: load(other.ctx, elevation)[0].state is GrantState.ENDING, "the revoke")  # type: ignore[index]
    gated.gate.set()
    approving.join(30)
    revoking.join(30)
    assert not approving.is_alive() and not revoking.is_alive()
    assert access(other) == AccessState(member=True, account_role="Analyst", scopes={"staging": "Viewer"})
    (ended, _) = load(other.ctx, elevation)  # type: ignore[misc]
    assert ended.state is GrantState.ENDED and ended.reverted == {"account_role": ("Architect", "Analyst")}
    assert other.ctx.load_view(permanent).status is RequestStatus.APPLIED  # type: ignore[union-attr]
    assert [result.outcome for result in answer] == [GrantOutcome.REVOKED]  # type: ignore[attr-defined]


def test_a_change_approved_while_the_holder_lets_the_account_go_is_applied_at_once(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker that records an account's last step lets the account go in the same transaction. A change approved
    just then must not be left queued for nobody: either the holder sees it, or the approval waits for the holder's
    transaction and then claims the account itself. (PostgreSQL only: on SQLite the holder's transaction keeps every
    other writer out until it commits.)"""
    holder = make_desk(tmp_path, database_url=postgres_url)
    approver = make_desk(tmp_path, database_url=postgres_url, clock=holder.clock)
    first = holder.submit(f"add {ANA} sandbox viewer on production reason: joins the team")
    second = approver.submit(f"add {ANA} sandbox viewer on staging reason: and staging")
    letting_go, go_on, queuing = threading.Event(), threading.Event(), threading.Event()
    real_release, real_mark_due = outcome.release, reconcile.mark_due

    def release_when_told(**arguments: Any) -> bool:
        letting_go.set()  # it looked for more work and found none; its transaction is still open
        assert go_on.wait(30)
        return real_release(**arguments)

    def mark_due_noted(**arguments: Any) -> None:
        queuing.set()
        real_mark_due(**arguments)

    monkeypatch.setattr(outcome, "release", release_when_told)
    monkeypatch.setattr(reconcile, "mark_due", mark_due_noted)
    holding = threading.Thread(target=approve_fully, args=(holder, first))
    holding.start()
    assert letting_go.wait(30), "the holder never got to let the account go"
    approving = threading.Thread(target=approve_fully, args=(approver, second))
    approving.start()
    assert queuing.wait(30), "the approval never queued its change"

    def waiting_for_a_lock() -> bool:
        with Session(holder.ctx.engine) as session:
            waits = session.exec(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")  # type: ignore[call-overload]
            ).one()
        return bool(waits[0])

    wait_until(lambda: not approving.is_alive() or waiting_for_a_lock(), "the approval to queue or to wait")
    go_on.set()
    holding.join(30)
    approving.join(30)
    assert not holding.is_alive() and not approving.is_alive()
    assert approver.ctx.load_view(second).status is RequestStatus.APPLIED  # type: ignore[union-attr]
    assert access(holder) == AccessState(
        member=True, account_role="Consumer", scopes={"production": "Viewer", "staging": "Viewer"}
    )
    assert the_account(holder).claimed_by is None


def test_a_revoke_whose_account_is_let_go_just_after_it_looked_still_reverts_at_once(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder lets the account go between the revoke's attempt to claim it and its look at who holds it (the
    holder was about to claim it again for the revoke): the revoke must try again, not answer "still revoking"."""
    seed(desk, ANALYST)
    elevation = grant_of(desk, applied(desk, f"update {ANA} sandbox architect for 2h reason: QA"))
    with session_scope(desk.ctx.engine) as session:
        account = get_grant(session=session, grant_id=elevation).account_id  # type: ignore[union-attr]
        held = claim(
            session=session, table=PlatformAccount, key=account, token="other", now=desk.clock.now(), lease=HOUR
        )
    assert held is not None
    real_drain = grant_actions.drain
    let_go: list[bool] = []

    def let_go_after_first_attempt(ctx: ServiceContext, account_id: int, *, worker: str) -> object:
        tally = real_drain(ctx, account_id, worker=worker)
        if not let_go:
            let_go.append(True)
            with session_scope(desk.ctx.engine) as session:
                assert release(session=session, table=PlatformAccount, key=account, fence=held.fence)
        return tally

    monkeypatch.setattr(grant_actions, "drain", let_go_after_first_attempt)
    answer = end_now(desk.ctx, elevation, person=desk.approver)
    assert answer.outcome is GrantOutcome.REVOKED, answer
    assert access(desk) == ANALYST


# --- 4. an extension is judged by the rules of the grant it extends -------------------------------------------


ADMIN_RULE = Rule(
    name="org-admin",
    match=RuleMatch(level="account", admin=True),
    approvals=2,
    require_one_of=("S0SECURITY",),
    max_duration=timedelta(hours=2),
)


def with_policy(desk: Desk, policy: PolicyConfig, **platform: object) -> Desk:
    settings = {**desk.ctx.settings}
    if platform:
        settings["sandbox"] = SandboxSettings.model_validate({**settings["sandbox"].model_dump(), **platform})
    desk.ctx = replace(desk.ctx, policy=policy, settings=settings)
    return desk


def test_an_ordinary_approver_cannot_extend_a_two_approver_grant_alone_nor_past_its_rule(desk: Desk) -> None:
    with_policy(desk, PolicyConfig(security_group="S0SECURITY", rules=(ADMIN_RULE,)))
    seed(desk, ANALYST)
    request_id = applied(desk, f"update {ANA} sandbox admin for 1h reason: migration")
    grant_id = grant_of(desk, request_id)
    (before, _) = load(desk.ctx, grant_id)  # type: ignore[misc]
    too_long = ask_extension(desk.ctx, grant_id, span=timedelta(days=29), reason="x", person=desk.approver)
    assert too_long.outcome is GrantOutcome.REFUSED and "too long" in too_long.reason
    past_rule = ask_extension(desk.ctx, grant_id, span=3 * HOUR, reason="x", person=desk.approver)
    assert past_rule.outcome is GrantOutcome.REFUSED and "at most 2h" in past_rule.reason, past_rule.reason
    asked = ask_extension(desk.ctx, grant_id, span=timedelta(minutes=30), reason="x", person=desk.approver)
    assert asked.outcome is GrantOutcome.EXTENSION_REQUESTED, "bob's click is one approval of two"
    assert asked.request is not None and asked.request.approvals == ("UBOB",)
    (unchanged, _) = load(desk.ctx, grant_id)  # type: ignore[misc]
    assert unchanged.ends_at == before.ends_at
    done = approve(desk.ctx, asked.request.id, approver=desk.other_approver)
    assert done.view is not None and done.view.status is RequestStatus.APPLIED
    (extended, _) = load(desk.ctx, grant_id)  # type: ignore[misc]
    assert extended.ends_at == before.ends_at + timedelta(minutes=30)


def test_a_break_glass_grant_cannot_be_self_extended_past_break_glass(desk: Desk) -> None:
    with_policy(
        desk,
        PolicyConfig(break_glass=BreakGlass(members=("UALICE",), max_duration=timedelta(hours=4))),
        allow_self_extension=True,
    )
    command = desk.command(f"break-glass {ANA} sandbox analyst for 1h reason: incident INC-1 payments down")
    assert isinstance(command, GrantCommand)
    taken = break_glass.take(desk.ctx, command, requester=desk.requester, target_email=ANA)
    grant_id = taken.grants[0].id
    refused = ask_extension(desk.ctx, grant_id, span=timedelta(days=29), reason="x", person=desk.requester)
    assert refused.outcome is GrantOutcome.REFUSED and "at most 4h" in refused.reason
    asked = ask_extension(desk.ctx, grant_id, span=HOUR, reason="still on it", person=desk.requester)
    assert asked.outcome is GrantOutcome.EXTENSION_REQUESTED, "break-glass is never extended without an approver"


def test_extensions_add_up_against_the_longest_grant(desk: Desk) -> None:
    seed(desk, ANALYST)
    request_id = applied(desk, f"update {ANA} sandbox admin for 2h reason: x")  # admin: at most 8h on the sandbox
    grant_id = grant_of(desk, request_id)
    (start, _) = load(desk.ctx, grant_id)  # type: ignore[misc]
    asked = [ask_extension(desk.ctx, grant_id, span=4 * HOUR, reason="more", person=desk.requester) for _ in range(3)]
    assert all(result.outcome is GrantOutcome.EXTENSION_REQUESTED for result in asked), "each fits, alone"
    outcomes = [approve_fully(desk, result.request.id).status for result in asked]  # type: ignore[union-attr]
    assert outcomes == [RequestStatus.APPLIED, RequestStatus.FAILED, RequestStatus.FAILED]
    (ended, _) = load(desk.ctx, grant_id)  # type: ignore[misc]
    assert ended.ends_at == start.ends_at + 4 * HOUR, "6h in all, never 14h"
    refused = desk.ctx.load_view(asked[1].request.id)  # type: ignore[union-attr]
    assert refused is not None and "at most 8h" in (refused.changes[0].error or "")


# --- 5. counts are checked under the same serialisation as the change ---------------------------------------


def test_concurrent_break_glass_uses_are_counted_one_after_another(desk: Desk) -> None:
    with_policy(desk, PolicyConfig(break_glass=BreakGlass(members=("UALICE",), per_person_per_day=1)))
    targets = [f"oncall{n}@agency.example" for n in range(4)]

    def use(email: str) -> Callable[[], object]:
        command = desk.command(f"break-glass {email} sandbox analyst for 1h reason: incident INC-2 checkout down")
        assert isinstance(command, GrantCommand)
        return lambda: break_glass.take(desk.ctx, command, requester=desk.requester, target_email=email)

    results = together(*(use(email) for email in targets))
    refused = [result for result in results if isinstance(result, RequestRefused)]
    assert len(refused) == 3, results
    assert sum(access(desk, email=email).member for email in targets) == 1


def test_concurrent_admin_grants_never_pass_the_most_admins(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url=database_url)
    with_policy(desk, PolicyConfig(guard_rails=GuardRails(max_org_admins=3, min_admins=0)))
    for n in range(2):
        seed_admin = AccessState(member=True, account_role="Admin")
        desk.ctx.platforms["sandbox"].apply(f"admin{n}@agency.example", seed_admin)
    people = [f"candidate{n}@agency.example" for n in range(3)]
    requests = [desk.submit(f"add {email} sandbox admin reason: on-call rota") for email in people]
    for request_id in requests:
        assert approve(desk.ctx, request_id, approver=desk.approver).outcome is Outcome.RECORDED
    results = together(
        *(
            lambda request_id=request_id: approve(desk.ctx, request_id, approver=desk.other_approver)
            for request_id in requests
        )
    )
    statuses = sorted(result.view.status.value for result in results)  # type: ignore[attr-defined]
    assert statuses == ["applied", "failed", "failed"]
    admins = [
        member for member in desk.ctx.platforms["sandbox"].list_members() if member.access.account_role == "Admin"
    ]
    assert len(admins) == 3
    refusals = [result.view.changes[0].error for result in results if result.view.status is RequestStatus.FAILED]  # type: ignore[attr-defined]
    assert all("the most allowed (3)" in (error or "") for error in refusals), refusals


def test_concurrent_admin_downgrades_never_leave_fewer_than_the_least(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url=database_url)
    with_policy(desk, PolicyConfig(guard_rails=GuardRails(max_org_admins=5, min_admins=2)))
    admins = [f"admin{n}@agency.example" for n in range(3)]
    for email in admins:
        desk.ctx.platforms["sandbox"].apply(email, AccessState(member=True, account_role="Admin"))
    requests = [desk.submit(f"update {email} sandbox analyst reason: fewer admins") for email in admins[:2]]
    results = together(
        *(
            lambda request_id=request_id: approve(desk.ctx, request_id, approver=desk.approver)
            for request_id in requests
        )
    )
    statuses = sorted(result.view.status.value for result in results)  # type: ignore[attr-defined]
    assert statuses == ["applied", "failed"]
    left = [member for member in desk.ctx.platforms["sandbox"].list_members() if member.access.account_role == "Admin"]
    assert len(left) == 2


@pytest.mark.parametrize("run", range(5))
def test_keep_and_revoke_pressed_together_are_one_decision(desk: Desk, run: int) -> None:
    seed(desk, ANALYST)
    request_id = applied(desk, f"update {ANA} sandbox architect for 2d reason: x")
    grant_id = grant_of(desk, request_id)
    desk.clock.advance(timedelta(days=1))
    assert sweep(desk.ctx).reminded == 1
    kept, revoked = together(
        lambda: keep(desk.ctx, grant_id, person=desk.requester),
        lambda: end_now(desk.ctx, grant_id, person=desk.approver),
    )
    outcomes = {kept.outcome, revoked.outcome}  # type: ignore[attr-defined]
    assert outcomes in ({GrantOutcome.KEPT, GrantOutcome.ANSWERED}, {GrantOutcome.ANSWERED, GrantOutcome.REVOKED})
    trail = [event for event in desk.audit(request_id) if event in ("elevation_kept", "elevation_revoked_early")]
    assert len(trail) == 1, trail
    loser = kept if kept.outcome is GrantOutcome.ANSWERED else revoked  # type: ignore[attr-defined]
    assert loser.grant is not None and loser.grant.answered_by in ("UALICE", "UBOB")  # type: ignore[attr-defined]
    expected = ANALYST if GrantOutcome.REVOKED in outcomes else AccessState(member=True, account_role="Architect")
    assert access(desk) == expected


# --- 6. a pending request's expiry is decided with the approval ----------------------------------------------


def test_a_pending_request_past_its_expiry_cannot_be_approved_before_the_sweep(desk: Desk) -> None:
    request_id = desk.submit(f"add {ANA} sandbox viewer on staging reason: x")
    desk.clock.advance(desk.ctx.policy.pending_expiry + timedelta(seconds=1))
    result = approve(desk.ctx, request_id, approver=desk.approver)
    assert result.outcome is Outcome.EXPIRED
    assert result.view is not None and result.view.status is RequestStatus.EXPIRED
    assert access(desk) == AccessState.absent()


def test_a_grant_that_drifted_entirely_ends_as_drift(desk: Desk) -> None:
    seed(desk, ANALYST)
    request_id = applied(desk, f"update {ANA} sandbox architect for 2h reason: x")
    seed(desk, AccessState(member=True, account_role="Consumer"))
    desk.clock.advance(2 * HOUR)
    sweep(desk.ctx)
    (ended, _) = load(desk.ctx, grant_of(desk, request_id))  # type: ignore[misc]
    assert ended.end_reason is EndReason.DRIFT
    assert access(desk).account_role == "Consumer", "left as found"
