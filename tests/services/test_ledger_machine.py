"""A stateful property test of the grant ledger: random sequences of grants, updates, removals, elevations,
extensions, expiries, early revokes, changes made outside the bot, failures with retries, and crashes mid-apply with
another bot process taking over, over a few people on two platforms.

After every step the bot is quiescent, and for every account:
- the platform holds exactly what the ledger explains (domain.ledger.desired of the baseline and the live grants);
- no temporary grant is live past its end;
- with no live grant left, the account is back to the baseline the test itself knows: what it had before the bot,
  or what a removal or a change outside the bot made it. Temporary access took away only what it gave.

`LEDGER_EXAMPLES` sets how many sequences run in all (default 2000), `LEDGER_PROCESSES` among how many processes
(default: 2, or 1 on a single core). `LEDGER_EXAMPLES=200 LEDGER_PROCESSES=1` for a quick run while working.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
import traceback
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import update
from sqlmodel import Session, SQLModel

from domain.access import AccessState, RemovalMethod, removed_state
from domain.ledger import LIVE, GrantState, Layer, desired, unexplained
from domain.lifecycle import RequestStatus
from platforms.base import ApplyResult, Platform
from services.context import RequestRefused
from services.decisions import Outcome, approve, retry
from services.grant_actions import GrantOutcome, ask_extension, end_now
from services.grants import live_views
from services.settings import ElevationSettings
from services.sweeper import sweep
from services.views import GrantView
from storage.audit import GENESIS
from storage.ledger import find_account, grants_of
from storage.models import AuditHead
from tests.fakes import FlakyPlatform, Killed
from tests.services.desk import Desk, approve_fully, make_desk

PLATFORMS = ("sandbox", "sandbox-eu")
ROLES = ("Architect", "Analyst", "Consumer", "Read-Only")
SCOPES = ("staging", "production")
SCOPE_ROLES = ("Admin", "Contributor", "Viewer", "none")
SPANS = ("30m", "1h", "2h", "4h")
LEASE = timedelta(seconds=ElevationSettings().lease_seconds)


class Dies(FlakyPlatform):
    """Dies on its next apply, before or after the platform took the change."""

    def __init__(self, inner: Platform, *, after: bool) -> None:
        super().__init__(inner)
        self.after = after

    def apply(self, email: str, desired_: AccessState) -> ApplyResult:
        if not self.after:
            raise Killed
        self.inner.apply(email, desired_)
        raise Killed


@dataclass
class World:
    """One database and two bot processes on it, emptied before each example: nothing an earlier example left (its
    grants still running, its accounts) costs a later one anything, and the engines (with their compiled statements)
    are made once."""

    bot: Desk
    other: Desk

    def empty(self) -> None:
        engine = self.bot.ctx.engine
        with engine.begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name != AuditHead.__tablename__:
                    connection.execute(table.delete())
            connection.execute(update(AuditHead).values(seq=0, hash=GENESIS))
        for desk in (self.bot, self.other):
            desk.notifier.events.clear()
            desk.notifier.elevations.clear()
            desk.notifier.tasks.clear()
            desk.notifier.drifts.clear()


_WORLD: World | None = None


def world() -> World:
    global _WORLD
    if _WORLD is None:
        folder = Path(tempfile.mkdtemp(prefix="ledger-machine-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        bot = make_desk(folder)
        _WORLD = World(bot=bot, other=make_desk(folder, clock=bot.clock))
    _WORLD.empty()
    return _WORLD


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = world()
        self.people = [f"{who}@agency.example" for who in ("ana", "ben")]
        # What the test knows each account's baseline is: nothing before the bot, then what removals and
        # outside changes made it.
        self.baseline: dict[tuple[str, str], AccessState] = {
            (platform, email): AccessState.absent() for platform in PLATFORMS for email in self.people
        }
        # The accounts a step may have changed, checked after it (the first check looks at all of them).
        self.touched: set[tuple[str, str]] = set(self.baseline)
        self._live_temporary: list[GrantView] | None = None

    def touch(self, platform: str | None = None, email: str | None = None) -> None:
        self.touched |= {key for key in self.baseline if platform in (None, key[0]) and email in (None, key[1])}

    @property
    def bot(self) -> Desk:
        return self.world.bot

    def platform(self, name: str) -> Platform:
        return self.bot.ctx.platforms[name]

    def actual(self, platform: str, email: str) -> AccessState:
        return self.platform(platform).get_access(email)

    def submit(self, text: str) -> int | None:
        try:
            return self.bot.submit(text)
        except RequestRefused:
            return None  # refused as asked (nothing to change, not a member...): nothing happens

    # --- what people ask for ----------------------------------------------------------------------------------

    @rule(
        who=st.integers(0, 1),
        platform=st.sampled_from(PLATFORMS),
        role=st.sampled_from(ROLES),
        span=st.none() | st.sampled_from(SPANS),
    )
    def account_role(self, who: int, platform: str, role: str, span: str | None) -> None:
        email = self.people[who]
        verb = "update" if self.actual(platform, email).member else "add"
        self._grant(f"{verb} {email} {platform} {role}" + (f" for {span}" if span else "") + " reason: x")

    @rule(
        who=st.integers(0, 1),
        platform=st.sampled_from(PLATFORMS),
        scope=st.sampled_from(SCOPES),
        role=st.sampled_from(SCOPE_ROLES),
        span=st.none() | st.sampled_from(SPANS),
    )
    def scope_role(self, who: int, platform: str, scope: str, role: str, span: str | None) -> None:
        email = self.people[who]
        member = self.actual(platform, email).member
        if role == "none" and (not member or span):  # nothing to take away; taking away is never temporary
            return
        verb = "update" if member else "add"
        self._grant(f"{verb} {email} {platform} {role} on {scope}" + (f" for {span}" if span else "") + " reason: x")

    def _grant(self, text: str) -> None:
        words = text.split()
        self.touch(words[2], words[1])
        request_id = self.submit(text)
        if request_id is not None:
            assert approve_fully(self.bot, request_id).status is RequestStatus.APPLIED

    @rule(who=st.integers(0, 1), platform=st.sampled_from(PLATFORMS), method=st.sampled_from(list(RemovalMethod)))
    def remove(self, who: int, platform: str, method: RemovalMethod) -> None:
        email = self.people[who]
        self.touch(platform, email)
        before = self.actual(platform, email)
        request_id = self.submit(f"remove {email} {platform} {method.value} reason: x")
        if request_id is None:
            return
        assert approve_fully(self.bot, request_id).status is RequestStatus.APPLIED
        self.baseline[(platform, email)] = removed_state(method, before, self.platform(platform).catalog)

    @precondition(lambda self: self._temporary())
    @rule(pick=st.integers(0, 10), span=st.sampled_from([timedelta(minutes=30), timedelta(hours=1)]))
    def extend(self, pick: int, span: timedelta) -> None:
        grants = self._temporary()
        grant = grants[pick % len(grants)]
        self.touch(grant.platform, grant.target_email)
        result = ask_extension(self.bot.ctx, grant.id, span=span, reason="more", person=self.bot.approver)
        if result.outcome is GrantOutcome.EXTENSION_REQUESTED:
            assert result.request is not None
            approve(self.bot.ctx, result.request.id, approver=self.bot.other_approver)

    @precondition(lambda self: self._temporary())
    @rule(pick=st.integers(0, 10))
    def revoke_now(self, pick: int) -> None:
        grant = self._temporary()[pick % len(self._temporary())]
        self.touch(grant.platform, grant.target_email)
        result = end_now(self.bot.ctx, grant.id, person=self.bot.requester)
        assert result.outcome is GrantOutcome.REVOKED, result

    def _temporary(self) -> list[GrantView]:
        # Asked by two preconditions and a rule between two steps: read once (the invariant forgets it after each step).
        if self._live_temporary is None:
            self._live_temporary = [
                grant
                for email in self.people
                for grant in live_views(self.bot.ctx, target_email=email, temporary_only=True)
            ]
        return self._live_temporary

    # --- time, faults and the world outside -----------------------------------------------------------------

    @rule(minutes=st.sampled_from([10, 45, 90, 180]))
    def time_passes(self, minutes: int) -> None:
        self.bot.clock.advance(timedelta(minutes=minutes))
        sweep(self.bot.ctx)
        self.touch()

    @rule(who=st.integers(0, 1), platform=st.sampled_from(PLATFORMS), role=st.sampled_from(ROLES))
    def changed_outside_the_bot(self, who: int, platform: str, role: str) -> None:
        """An admin sets the account role in the platform's own UI; the bot must adopt it, not fight it."""
        email = self.people[who]
        self.touch(platform, email)
        now = self.actual(platform, email)
        if not now.member or now.account_role == role:
            return
        self.platform(platform).apply(email, now.model_copy(update={"account_role": role}))
        known = self.baseline[(platform, email)]
        self.baseline[(platform, email)] = AccessState(
            member=True, account_role=role, scopes=known.scopes if known.member else {}
        )
        self._reconcile(platform, email)

    @rule(
        who=st.integers(0, 1),
        platform=st.sampled_from(PLATFORMS),
        role=st.sampled_from(ROLES),
        span=st.none() | st.sampled_from(SPANS),
        after=st.booleans(),
    )
    def crash_mid_apply_then_take_over(self, who: int, platform: str, role: str, span: str | None, after: bool) -> None:
        email = self.people[who]
        self.touch()  # the take-over sweep reconciles whatever else is due too
        verb = "update" if self.actual(platform, email).member else "add"
        request_id = self.submit(f"{verb} {email} {platform} {role}" + (f" for {span}" if span else "") + " reason: x")
        if request_id is None:
            return
        dying = replace(
            self.bot.ctx, platforms={**self.bot.ctx.platforms, platform: Dies(self.platform(platform), after=after)}
        )
        with contextlib.suppress(Killed):
            approve(dying, request_id, approver=self.bot.approver)
        # The other process takes the dead claim over once its lease has run out, and finishes from the platform.
        self.bot.clock.advance(LEASE + timedelta(seconds=1))
        sweep(self.world.other.ctx)
        view = self.bot.ctx.load_view(request_id)
        assert view is not None and view.status is RequestStatus.APPLIED, view

    @rule(
        who=st.integers(0, 1), platform=st.sampled_from(PLATFORMS), role=st.sampled_from(ROLES), retried=st.booleans()
    )
    def platform_failure_then_retry(self, who: int, platform: str, role: str, retried: bool) -> None:
        email = self.people[who]
        self.touch(platform, email)
        verb = "update" if self.actual(platform, email).member else "add"
        request_id = self.submit(f"{verb} {email} {platform} {role} for 1h reason: x")
        if request_id is None:
            return
        flaky = FlakyPlatform(self.platform(platform), failures=1)
        failing = replace(self.bot.ctx, platforms={**self.bot.ctx.platforms, platform: flaky})
        failed = approve(failing, request_id, approver=self.bot.approver)
        assert failed.view is not None
        if flaky.applies == 0:  # nothing to send (they hold it already, for longer): nothing could fail
            assert failed.view.status is RequestStatus.APPLIED
            return
        assert failed.view.status is RequestStatus.FAILED
        if retried:
            assert retry(self.bot.ctx, request_id, actor=self.bot.approver).outcome is Outcome.DONE
        else:
            self._reconcile(platform, email)  # nobody retries: what was planned and failed must not linger

    def _reconcile(self, platform: str, email: str) -> None:
        from services.reconcile import drain
        from storage.db import session_scope
        from storage.ledger import mark_due

        with session_scope(self.bot.ctx.engine) as session:
            account = find_account(session=session, platform=platform, email=email)
            if account is None or account.id is None:
                return
            account_id = account.id
            mark_due(session=session, account_id=account_id, at=self.bot.clock.now())
        drain(self.bot.ctx, account_id, worker="machine")

    # --- what must hold after every step ------------------------------------------------------------------

    @invariant()
    def the_platform_is_what_the_ledger_explains(self) -> None:
        self._live_temporary = None
        touched, self.touched = self.touched, set()
        for platform, email in sorted(touched):
            self._check(platform, email)

    def _check(self, platform: str, email: str) -> None:
        actual = self.actual(platform, email)
        with Session(self.bot.ctx.engine) as session:
            account = find_account(session=session, platform=platform, email=email)
            if account is None or account.id is None:
                assert actual == self.baseline[(platform, email)], (platform, email)
                return
            rows = grants_of(session=session, account_id=account.id)
        assert account.claimed_by is None, "every claim is let go"
        live = [row for row in rows if GrantState(row.state) in LIVE]
        assert all(GrantState(row.state) is GrantState.ACTIVE for row in live), "nothing half-applied"
        assert not any(row.state == GrantState.ENDING.value for row in rows), "every end reached the platform"
        now = self.bot.clock.now()
        assert all(row.permanent or (row.ends_at is not None and row.ends_at > now) for row in live)
        layers = [Layer(id=row.id, seq=row.seq, parts=row.parts, permanent=row.permanent) for row in live]  # type: ignore[arg-type]
        baseline = AccessState.model_validate(account.baseline)
        default = self.platform(platform).catalog.default_account_role
        assert unexplained(actual, baseline, layers, default_account_role=default) == {}, (platform, email)
        assert actual == desired(baseline, layers, default_account_role=default)
        if not live:
            assert actual == self.baseline[(platform, email)], (
                f"{email} on {platform}: no grant is live, yet they hold {actual.describe()}, not "
                f"{self.baseline[(platform, email)].describe()}"
            )


EXAMPLES = int(os.environ.get("LEDGER_EXAMPLES", "2000"))
PROCESSES = max(1, int(os.environ.get("LEDGER_PROCESSES", str(min(2, os.cpu_count() or 1)))))


def explore(examples: int) -> None:
    """Run `examples` random sequences (each with its own random seed); raises, after shrinking it, at the first one
    that breaks an invariant, and prints it as steps to replay (with the blob that reproduces it exactly)."""
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=12,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


def explore_into(examples: int, report: str) -> None:
    """`explore` in a worker process, whose failing steps go to the `report` file for the parent to show: a worker's
    output would otherwise be lost whenever the run does not get as far as pytest's failure summary."""
    with open(report, "w", encoding="utf-8") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            explore(examples)
        except BaseException:
            traceback.print_exc()
            out.flush()
            raise


def test_the_ledger_keeps_its_promise_over_thousands_of_random_sequences(tmp_path: Path) -> None:
    """EXAMPLES sequences in all, shared among PROCESSES processes that each explore on their own database."""
    if PROCESSES == 1:
        explore(EXAMPLES)
        return
    spawn = multiprocessing.get_context("spawn")  # a new interpreter: nothing of this test process's threads
    shares = [EXAMPLES // PROCESSES + (1 if k < EXAMPLES % PROCESSES else 0) for k in range(PROCESSES)]
    reports = [tmp_path / f"ledger-{k}.txt" for k in range(PROCESSES)]
    workers = [
        spawn.Process(target=explore_into, args=(share, str(reports[k])), name=f"ledger-{k}")
        for k, share in enumerate(shares)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failed = [
        f"{worker.name} (exit {worker.exitcode}):\n{report.read_text(encoding='utf-8') if report.exists() else ''}"
        for worker, report in zip(workers, reports, strict=True)
        if worker.exitcode != 0
    ]
    assert not failed, "a sequence broke the ledger's promise; the steps to replay it:\n" + "\n".join(failed)
