"""How fast the sweeper reverts a pile of due elevations on the sandbox platform.

    python benchmarks/revert_sweep.py                 # N = 1,000 and 10,000
    python benchmarks/revert_sweep.py --n 500 --workers 2 --slack none

For each N it creates N elevations that are all due now (with their requests, cards and sandbox members), runs the
sweeper until none is left, and prints the time taken, reverts per second, the lag between each elevation's
expiry and its revert (p50 and worst), the Slack calls made and when the last of them went out. By default the bot
tells Slack through a local Slack Web API over HTTP, as in production: a digest per channel and per requester naming
every grant that ended, and each card redrawn in the background lane once nothing more urgent waits (a few grants
ending together get a thread reply and a DM each instead); `--slack none` leaves Slack out to see the sweeper's own
cost. `--workers` runs that many sweepers at once on the same database, as several bot instances
would. The setup writes rows directly (it is not what is measured).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import update
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def seed(ctx: ServiceContext, slack: LocalSlack | None, n: int, due: datetime) -> None:
    seed_grants(ctx.engine, ctx.catalogs["sandbox"], n, ends_at=due)
    if slack is not None:
        for number in range(n):
            card_ts = card_ts_of(number)
            slack.messages[(APPROVALS, card_ts)] = StoredMessage(APPROVALS, card_ts, "card", [])


def run(n: int, *, workers: int, with_slack: bool, batch: int = ElevationSettings().batch) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalSlack(bot_token=TOKEN, users=[LocalUser("U0ALICE", "alice", "alice@agency.example")]) as slack,
    ):
        settings = Settings(
            slack_bot_token=SecretStr(TOKEN),
            slack_api_url=slack.api_url,
            database_url=f"sqlite:///{folder}/bench.db",
            platforms={"sandbox": SandboxSettings(approvers=("U0BOB",))},
            elevations=ElevationSettings(batch=batch),
        )
        from bot.bootstrap import slack_client

        client = slack_client(settings)
        engine = make_engine(settings.database_url)
        outbox = Outbox(client, engine)
        notifier = SlackNotifier(outbox, APPROVALS) if with_slack else SilentNotifier()
        ctx = build_services(settings, directory=SlackDirectory(client), notifier=notifier, engine=engine)
        outbox.render_card = lambda request_id: card_of(ctx, request_id)
        due = datetime.now(UTC)
        seed(ctx, slack if with_slack else None, n, due)
        with session_scope(ctx.engine) as session:  # all due from the moment the sweep starts
            now = datetime.now(UTC)
            session.exec(update(Grant).values(ends_at=now))
            session.exec(update(PlatformAccount).values(due_at=now))
        start = time.perf_counter()
        threads = [threading.Thread(target=sweep, args=(ctx,), kwargs={"worker": f"w{k}"}) for k in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sweep(ctx)  # anything a racing worker left (there should be nothing)
        elapsed = time.perf_counter() - start
        # What the sweep left for the background lane (card redraws), sent as the scheduler would after a sweep.
        while with_slack and outbox.deliver_pending(background=200):
            pass
        told = time.perf_counter() - start
        with Session(ctx.engine) as session:
            rows = session.exec(select(Grant).where(col(Grant.state) == GrantState.ENDED.value)).all()
            lags = sorted((row.ended_at - row.ends_at).total_seconds() for row in rows if row.ended_at and row.ends_at)
            members = session.exec(select(SandboxMember)).all()
        assert len(rows) == n, f"only {len(rows)} of {n} reverted"
        assert all(member.account_role == "Consumer" for member in members), "a member was not reverted"
        messages = len(slack.calls_to("chat.postMessage")) + len(slack.calls_to("chat.update"))
        redrawn = {call.params["ts"] for call in slack.calls_to("chat.update") if call.params.get("blocks")}
        posted = [(call.params["channel"], str(call.params.get("text"))) for call in slack.calls_to("chat.postMessage")]
        emails = [email_of(number) for number in range(n)]
        in_channel = " ".join(text for channel, text in posted if channel == APPROVALS)
        to_requester = " ".join(text for channel, text in posted if channel == "U0ALICE")
        ctx.engine.dispose()
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
    parser.add_argument("--workers", type=int, default=1, help="sweepers running at once (default 1)")
    parser.add_argument("--slack", choices=["local", "none"], default="local")
    parser.add_argument(
        "--batch",
        type=int,
        default=ElevationSettings().batch,
        help=f"accounts a sweep claims at once (default {ElevationSettings().batch}, as elevations.batch)",
    )
    args = parser.parse_args()
    sizes = args.n or [1_000, 10_000]
    print(f"sweeper benchmark: sandbox on SQLite, {args.workers} worker(s), Slack: {args.slack}")
    print(
        f"{'N':>7} {'seconds':>9} {'reverts/s':>10} {'lag p50 s':>10} {'lag max s':>10} {'Slack calls':>12} "
        f"{'last told s':>12}"
    )
    for n in sizes:
        result = run(n, workers=args.workers, with_slack=args.slack == "local", batch=args.batch)
        print(
            f"{result['n']:>7} {result['seconds']:>9.2f} {result['per_second']:>10.1f} "
            f"{result['lag_p50']:>10.2f} {result['lag_max']:>10.2f} {int(result['slack_calls']):>12} "
            f"{result['told_seconds']:>12.2f}"
        )


if __name__ == "__main__":
    main()
