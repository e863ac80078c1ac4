"""How fast the sweeper reverts a pile of due elevations on the sandbox platform.

    python benchmarks/revert_sweep.py                 # N = 1,000 and 10,000, SQLite, one instance
    python benchmarks/revert_sweep.py --n 10000 --setup postgresql:1 --setup postgresql:2
    python benchmarks/revert_sweep.py --n 2000 --latency 0.2 --slack none

For each N it creates N elevations that are all due now (with their requests, cards and sandbox members), starts
the setup's bot instances (each its own process, on one database: a SQLite file, or a database on a PostgreSQL
server the benchmark starts itself), lets them sweep until none is left, and prints the time taken, reverts per
second, the lag between each elevation's expiry and its revert (p50 and worst), the Slack calls made and when the
last of them went out. By default the bots tell Slack through a local Slack Web API over HTTP, as in production:
digests per channel and per requester naming every grant that ended (a hundred a message, a second apart), and
each card redrawn in the background lane afterwards; `--slack none` leaves Slack out
to see the sweeper's own cost. `--latency` makes each sandbox change take that long, like a vendor's API, called
`concurrency` at a time. The setup writes rows directly (it is not what is measured).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import update
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.processes import Setup, database_url
from benchmarks.seeding import APPROVALS, card_ts_of, email_of, seed_grants
from bot.bootstrap import build_services
from bot.console.local_slack import LocalSlack, LocalUser, StoredMessage
from bot.settings import Settings
from domain.ledger import GrantState
from handlers.directory import SlackDirectory
from handlers.notifier import SlackNotifier, card_of
from handlers.outbox import Outbox
from platforms.settings import SandboxSettings
from services.context import ServiceContext
from services.offboarding import PlatformNotice
from services.ports import MessageRef
from services.reviews import ReviewView
from services.settings import ElevationSettings
from services.sweeper import sweep
from services.views import DriftReport, EndedGrant, GrantView, RequestView, TaskView
from storage.db import make_engine, session_scope
from storage.models import Grant, PlatformAccount, SandboxMember
from storage.schema import ensure_schema
from tests.postgres import PostgresServer

TOKEN = "xoxb-benchmark"


class SilentNotifier:
    """For `--slack none`: measures the sweeper without Slack. Counts what it would have sent."""

    def __init__(self) -> None:
        self.sent = 0

    def request_submitted(self, view: RequestView) -> MessageRef | None:
        return None

    def request_progressed(self, view: RequestView) -> None: ...

    def request_concluded(self, view: RequestView) -> None: ...

    def request_reminder(self, view: RequestView, *, escalate_to: str | None = None) -> None: ...

    def break_glass_used(self, view: RequestView, channel: str | None) -> None: ...

    def manual_tasks_opened(self, view: RequestView, tasks: tuple[TaskView, ...]) -> None: ...

    def removal_notices(self, view: RequestView, notices: tuple[PlatformNotice, ...]) -> None: ...

    def manual_task_reminder(self, view: RequestView, task: TaskView, now: datetime) -> None: ...

    def elevation_reminder(self, view: RequestView, elevation: GrantView, now: datetime) -> None: ...

    def elevations_ended(self, ended: Sequence[EndedGrant]) -> None:
        self.sent += len(ended)

    def elevation_revert_failed(self, view: RequestView, elevation: GrantView, *, escalate: bool) -> None: ...

    def elevation_extended(self, view: RequestView, elevation: GrantView) -> None: ...

    def drift_found(self, report: DriftReport) -> None: ...

    def review_posted(self, review: ReviewView) -> dict[int, MessageRef]:
        return {}

    def review_decided(self, review: ReviewView, message: MessageRef) -> None: ...


@dataclass(frozen=True)
class Instance:
    """What a bot instance (its own process) needs to start: its settings, and whether it tells Slack."""

    settings: Settings
    with_slack: bool
    worker: str


def bot(settings: Settings, *, with_slack: bool) -> tuple[ServiceContext, Outbox | None]:
    """The services a bot instance sweeps with, telling the local Slack over HTTP (or nobody)."""
    from bot.slack_app import slack_client

    client = slack_client(settings)
    engine = make_engine(settings.database_url)
    if not with_slack:
        return build_services(
            settings, directory=SlackDirectory(client), notifier=SilentNotifier(), engine=engine
        ), None
    outbox = Outbox(client, engine, digest_window=timedelta(seconds=settings.elevations.digest_seconds))
    notifier = SlackNotifier(outbox, APPROVALS)
    ctx = build_services(settings, directory=SlackDirectory(client), notifier=notifier, engine=engine)
    outbox.render_card = lambda request_id: card_of(ctx, request_id)
    outbox.render_digest = notifier.draw_digest
    return ctx, outbox


def instance(spec: Instance, ready: Barrier, results: Queue[tuple[str, float, float]]) -> None:
    """One instance's process: start, wait for the others, sweep until nothing is due, then send what the sweep
    left for the background lane (card redraws) as the scheduler would; reports when each ended."""
    ctx, outbox = bot(spec.settings, with_slack=spec.with_slack)
    ready.wait()  # every instance is up; the elevations are made due now
    ready.wait()  # and the sweeps start
    sweep(ctx, worker=spec.worker)
    swept = time.monotonic()
    while outbox is not None:
        if outbox.deliver_pending(background=200):
            continue
        due = outbox.next_digest()  # digests are held a second apart per recipient, as Slack allows
        if due is None:
            break
        time.sleep(max((due - datetime.now(UTC)).total_seconds(), 0.0))
    results.put((spec.worker, swept, time.monotonic()))
    ctx.engine.dispose()


def run(
    n: int,
    setup: Setup,
    *,
    with_slack: bool,
    batch: int = ElevationSettings().batch,
    latency: float = 0.0,
    postgres: PostgresServer | None = None,
) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalSlack(bot_token=TOKEN, users=[LocalUser("U0ALICE", "alice", "alice@agency.example")]) as slack,
    ):
        url = database_url(setup, Path(folder), postgres)
        settings = Settings(
            slack_bot_token=SecretStr(TOKEN),
            slack_api_url=slack.api_url,
            database_url=url,
            platforms={"sandbox": SandboxSettings(approvers=("U0BOB",), latency_seconds=latency)},
            elevations=ElevationSettings(batch=batch),
        )
        engine = make_engine(url)
        ensure_schema(engine)
        seed_grants(engine, settings.platforms["sandbox"].catalog(), n, ends_at=datetime.now(UTC))
        for number in range(n if with_slack else 0):
            card_ts = card_ts_of(number)
            slack.messages[(APPROVALS, card_ts)] = StoredMessage(APPROVALS, card_ts, "card", [])
        spawn = multiprocessing.get_context("spawn")
        ready = spawn.Barrier(setup.instances + 1)
        results: Queue[tuple[str, float, float]] = spawn.Queue()
        processes = [
            spawn.Process(target=instance, args=(Instance(settings, with_slack, f"bot{k}"), ready, results))
            for k in range(setup.instances)
        ]
        for process in processes:
            process.start()
        try:
            ready.wait(timeout=120)
            with session_scope(engine) as session:  # all due from the moment the sweeps start
                now = datetime.now(UTC)
                session.exec(update(Grant).values(ends_at=now))
                session.exec(update(PlatformAccount).values(due_at=now))
            ready.wait(timeout=120)
            start = time.monotonic()
            ended = [results.get(timeout=3600) for _ in processes]
        finally:
            for process in processes:
                process.join(timeout=60)
                if process.is_alive():
                    process.kill()
        elapsed = max(swept for _, swept, _ in ended) - start
        told = max(sent for _, _, sent in ended) - start
        with Session(engine) as session:
            rows = session.exec(select(Grant).where(col(Grant.state) == GrantState.ENDED.value)).all()
            lags = sorted((row.ended_at - row.ends_at).total_seconds() for row in rows if row.ended_at and row.ends_at)
            members = session.exec(select(SandboxMember)).all()
        engine.dispose()
        assert len(rows) == n, f"only {len(rows)} of {n} reverted"
        assert all(member.account_role == "Consumer" for member in members), "a member was not reverted"
        messages = len(slack.calls_to("chat.postMessage")) + len(slack.calls_to("chat.update"))
        redrawn = {call.params["ts"] for call in slack.calls_to("chat.update") if call.params.get("blocks")}
        posted = [(call.params["channel"], str(call.params.get("text"))) for call in slack.calls_to("chat.postMessage")]
        emails = [email_of(number) for number in range(n)]
        in_channel = " ".join(text for channel, text in posted if channel == APPROVALS)
        to_requester = " ".join(text for channel, text in posted if channel == "U0ALICE")
        return {
            "n": n,
            "seconds": elapsed,
            "per_second": n / elapsed,
            "lag_p50": statistics.median(lags),
            "lag_max": lags[-1],
            "slack_calls": messages,
            "told_seconds": told,
            "cards_redrawn": len(redrawn),
            "told_in_channel": sum(f"{email} " in in_channel or f"{email}:" in in_channel for email in emails),
            "told_to_requester": sum(f"{email} " in to_requester or f"{email}:" in to_requester for email in emails),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="elevations to revert (repeatable)")
    parser.add_argument(
        "--setup", type=Setup.parse, action="append", help="sqlite:N or postgresql:N instances (repeatable)"
    )
    parser.add_argument("--slack", choices=["local", "none"], default="local")
    parser.add_argument(
        "--batch",
        type=int,
        default=ElevationSettings().batch,
        help=f"accounts a sweep claims at once (default {ElevationSettings().batch}, as elevations.batch)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each sandbox change takes (default 0)")
    args = parser.parse_args()
    sizes = args.n or [1_000, 10_000]
    setups = args.setup or [Setup("sqlite", 1)]
    postgres = PostgresServer().start() if any(setup.database == "postgresql" for setup in setups) else None
    try:
        for setup in setups:
            print(f"sweeper benchmark: sandbox on {setup}, Slack: {args.slack}, latency {args.latency}s")
            if args.latency:
                slots = SandboxSettings().concurrency * setup.instances
                print(f"the platform's bound: {slots} calls at once / {args.latency}s = {slots / args.latency:.1f}/s")
            print(
                f"{'N':>7} {'seconds':>9} {'reverts/s':>10} {'lag p50 s':>10} {'lag max s':>10} "
                f"{'Slack calls':>12} {'last told s':>12}"
            )
            for n in sizes:
                result = run(
                    n,
                    setup,
                    with_slack=args.slack == "local",
                    batch=args.batch,
                    latency=args.latency,
                    postgres=postgres,
                )
                print(
                    f"{result['n']:>7} {result['seconds']:>9.2f} {result['per_second']:>10.1f} "
                    f"{result['lag_p50']:>10.2f} {result['lag_max']:>10.2f} {int(result['slack_calls']):>12} "
                    f"{result['told_seconds']:>12.2f}"
                )
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
