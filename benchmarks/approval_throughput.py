"""How many approvals a second the bot applies when K waiting requests are approved at once.

    python benchmarks/approval_throughput.py              # K = 200: SQLite and PostgreSQL with one instance as
                                                          # they come, then one and two PostgreSQL instances of
                                                          # one worker process each
    python benchmarks/approval_throughput.py --k 100 --latency 0.2 --setup postgresql:2
    python benchmarks/approval_throughput.py --k 100 --setup postgresql:1 --workers 2

Each setup starts real `accessbot serve` processes on one database (a fresh SQLite file, or a database on a
PostgreSQL server the benchmark starts itself: loopback, fsync off), all talking to one local Slack Web API in its
own process. K `/access add` requests are made and their cards posted (not measured); then K signed Approve clicks
go out from C concurrent clients, spread over the instances, and the clock runs until every request is applied.
It prints approvals per second and the clicks' answer times, and checks that each request was applied exactly once.
Over the clicks it also prints how busy the machine's CPUs were, and on PostgreSQL how many transactions were
waiting for a lock at a moment (`pg_stat_activity`, sampled every 20 ms): a hot row shows there.
At the end it prints the two ratios the figures are for: one PostgreSQL instance against SQLite, and two PostgreSQL
instances against one. `--latency` makes the sandbox take that long per change, like a vendor's API; `--workers` sets
each instance's `worker_processes`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ack_latency import add_requests
from benchmarks.processes import (
    Setup,
    SlackEndpoint,
    database_url,
    every,
    percentile,
    send_all,
    slack_process,
    wait_until,
)
from bot.console.local_slack import StoredMessage
from bot.console.payloads import SignedRequest, SlackRequests
from bot.settings import Settings
from handlers import ids
from storage.db import make_engine
from tests.faults.cluster import BOB, SECRET, BotProcess, write_config
from tests.postgres import PostgresServer

DEFAULT_SETUPS = ["sqlite:1", "postgresql:1", "postgresql:2"]


def scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def cpu_times() -> tuple[float, float]:
    """The machine's busy and total CPU time so far (/proc/stat, in ticks)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [float(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


@contextmanager
def lock_waits(engine: Engine) -> Iterator[list[int]]:
    """Samples, every 20 ms while the block runs, of how many of the bot's transactions wait for a lock."""
    samples: list[int] = []
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND pid <> pg_backend_pid()"
    )
    with engine.connect() as connection:

        def sample() -> None:
            samples.append(int(connection.execute(query).scalar_one()))
            connection.rollback()

        with every(0.02, sample):
            yield samples


def approvals(engine: Engine, requests: SlackRequests) -> list[SignedRequest]:
    """Bob's Approve click on every waiting card, as Slack would send it."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, card_channel, card_ts FROM access_request WHERE status = 'pending' ORDER BY id")
        ).all()
    button = {"type": "button", "action_id": ids.APPROVE}
    return [
        requests.button(
            user=BOB,
            message=StoredMessage(channel=channel, ts=ts, text=f"Access request #{request_id}", blocks=[]),
            action={**button, "value": str(request_id)},
            block_id="decision",
        )
        for request_id, channel, ts in rows
    ]


@dataclass(frozen=True)
class Result:
    seconds: float
    per_second: float
    click_p50: float
    click_p99: float
    cpu_busy: float  # of the whole machine, over the clicks
    lock_waits: float | None  # transactions waiting for a lock at a moment, on average (PostgreSQL only)


def run(
    setup: Setup, k: int, *, clients: int, latency: float, workers: int | None, postgres: PostgresServer | None
) -> Result:
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        slack: SlackEndpoint = stack.enter_context(slack_process())
        url = database_url(setup, folder, postgres)
        # The sweep as it comes by default (every 30 s): nothing an approval does waits for it.
        config = write_config(folder, url, latency=latency, lease=30.0, sweep_seconds=30.0)
        processes = {"ACCESSBOT_WORKER_PROCESSES": str(workers)} if workers is not None else {}
        bots = [
            BotProcess(f"bot{n}", config, slack.api_url, folder, environment=processes).start()
            for n in range(setup.instances)
        ]
        for bot in bots:
            stack.callback(bot.stop)
        for bot in bots:
            bot.wait_healthy()
        engine = make_engine(url)
        stack.callback(engine.dispose)
        requests = SlackRequests(signing_secret=SECRET, response_base=slack.response_base)
        urls = [f"{bot.url}/slack/events" for bot in bots]

        def ok(response: httpx.Response) -> None:
            if response.status_code != 200:
                raise RuntimeError(f"answered {response.status_code}: {response.text[:200]}")

        send_all(urls, add_requests(requests, k), clients=clients, check=ok)
        pending = "SELECT count(*) FROM access_request WHERE status = 'pending' AND card_ts IS NOT NULL"
        wait_until(lambda: scalar(engine, pending) == k, timeout=300, what=f"{k} cards")

        clicks = approvals(engine, requests)
        with ExitStack() as sampling:
            waits = sampling.enter_context(lock_waits(engine)) if setup.database == "postgresql" else None
            busy_before, total_before = cpu_times()
            started = time.perf_counter()
            answers = send_all(urls, clicks, clients=clients, check=ok)
            applied = "SELECT count(*) FROM access_request WHERE status = 'applied'"
            wait_until(lambda: scalar(engine, applied) == k, timeout=600, what=f"{k} approvals applied")
            elapsed = time.perf_counter() - started
            busy_after, total_after = cpu_times()

        applied_events = scalar(engine, "SELECT count(*) FROM audit_event WHERE event = 'applied'")
        members = scalar(engine, "SELECT count(*) FROM sandbox_member")
        if applied_events != k or members != k:
            raise RuntimeError(f"{applied_events} 'applied' events and {members} members for {k} approvals")
        return Result(
            seconds=elapsed,
            per_second=k / elapsed,
            click_p50=percentile(answers, 0.5),
            click_p99=percentile(answers, 0.99),
            cpu_busy=(busy_after - busy_before) / max(total_after - total_before, 1.0),
            lock_waits=sum(waits) / len(waits) if waits else None,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=200, help="requests approved at once (default 200)")
    parser.add_argument("--c", type=int, default=10, help="concurrent clients clicking (default 10)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the sandbox takes per change")
    parser.add_argument("--setup", type=Setup.parse, action="append", help="sqlite:N or postgresql:N (repeatable)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes per instance (worker_processes; default: its own default, auto)",
    )
    args = parser.parse_args()
    runs = plan(args.setup, args.workers)
    auto = {
        database: Settings.model_construct(database_url=f"{database}://", worker_processes="auto").workers()
        for database in ("sqlite", "postgresql")
    }
    print(f"approval throughput: {args.k} approvals from {args.c} clients, sandbox latency {args.latency:g} s")
    print(
        f"{'setup':<26} {'workers':>8} {'seconds':>8} {'approvals/s':>12} {'click p50 ms':>13} {'click p99 ms':>13} "
        f"{'CPU busy':>9} {'lock waits':>11}"
    )
    postgres = PostgresServer().start() if any(setup.database == "postgresql" for setup, _ in runs) else None
    rates: dict[tuple[Setup, int | None], float] = {}
    try:
        for setup, workers in runs:
            result = run(setup, args.k, clients=args.c, latency=args.latency, workers=workers, postgres=postgres)
            rates[setup, workers] = result.per_second
            each = str(workers) if workers is not None else f"{auto[setup.database]} auto"
            waits = "-" if result.lock_waits is None else f"{result.lock_waits:.2f}"
            print(
                f"{setup!s:<26} {each:>8} {result.seconds:>8.2f} {result.per_second:>12.1f} "
                f"{result.click_p50 * 1000:>13.1f} {result.click_p99 * 1000:>13.1f} {result.cpu_busy:>9.0%} {waits:>11}"
            )
    finally:
        if postgres is not None:
            postgres.stop()
    for line in ratios(rates):
        print(line)


#: Without --setup: SQLite and PostgreSQL as they come (worker processes auto), then one and two PostgreSQL
#: instances of one worker process each, which shows what a second instance adds when the machine has room for it.
DEFAULT_RUNS = [("sqlite:1", None), ("postgresql:1", None), ("postgresql:1", 1), ("postgresql:2", 1)]


def plan(setups: list[Setup] | None, workers: int | None) -> list[tuple[Setup, int | None]]:
    if setups:
        return [(setup, workers) for setup in setups]
    if workers is not None:
        return [(Setup.parse(text_), workers) for text_ in DEFAULT_SETUPS]
    return [(Setup.parse(text_), count) for text_, count in DEFAULT_RUNS]


def ratios(rates: dict[tuple[Setup, int | None], float]) -> list[str]:
    """The comparisons the figures are for: one PostgreSQL instance against SQLite, two instances against one."""
    lines = []
    sqlite, postgresql = rates.get((Setup("sqlite", 1), None)), rates.get((Setup("postgresql", 1), None))
    if sqlite and postgresql:
        lines.append(f"one PostgreSQL instance / SQLite (worker processes auto): {postgresql / sqlite:.2f}x")
    for (setup, workers), rate in rates.items():
        one = rates.get((Setup("postgresql", 1), workers))
        if setup == Setup("postgresql", 2) and one:
            each = "worker processes auto" if workers is None else f"{workers} worker process{'es' * (workers > 1)}"
            lines.append(f"two PostgreSQL instances / one ({each} each): {rate / one:.2f}x")
    return lines


if __name__ == "__main__":
    main()
