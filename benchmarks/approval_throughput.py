"""How many approvals a second the bot applies when K waiting requests are approved at once.

    python benchmarks/approval_throughput.py              # K = 200: SQLite with one instance, PostgreSQL with
                                                          # one and with two instances
    python benchmarks/approval_throughput.py --k 100 --latency 0.2 --setup postgresql:2
    python benchmarks/approval_throughput.py --k 100 --setup postgresql:1 --workers 2

Each setup starts real `accessbot serve` processes on one database (a fresh SQLite file, or a database on a
PostgreSQL server the benchmark starts itself: loopback, fsync off), all talking to one local Slack Web API in its
own process. K `/access add` requests are made and their cards posted (not measured); then K signed Approve clicks
go out from C concurrent clients, spread over the instances, and the clock runs until every request is applied.
It prints approvals per second and the clicks' answer times, and checks that each request was applied exactly once.
`--latency` makes the sandbox take that long per change, like a vendor's API; `--workers` sets each instance's
`worker_processes`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ack_latency import add_requests
from benchmarks.processes import Setup, SlackEndpoint, database_url, percentile, send_all, slack_process, wait_until
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


def run(
    setup: Setup, k: int, *, clients: int, latency: float, workers: int | None, postgres: PostgresServer | None
) -> dict[str, float]:
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
        started = time.perf_counter()
        answers = send_all(urls, clicks, clients=clients, check=ok)
        applied = "SELECT count(*) FROM access_request WHERE status = 'applied'"
        wait_until(lambda: scalar(engine, applied) == k, timeout=600, what=f"{k} approvals applied")
        elapsed = time.perf_counter() - started

        applied_events = scalar(engine, "SELECT count(*) FROM audit_event WHERE event = 'applied'")
        members = scalar(engine, "SELECT count(*) FROM sandbox_member")
        if applied_events != k or members != k:
            raise RuntimeError(f"{applied_events} 'applied' events and {members} members for {k} approvals")
        return {
            "k": k,
            "seconds": elapsed,
            "per_second": k / elapsed,
            "click_p50": percentile(answers, 0.5),
            "click_p99": percentile(answers, 0.99),
        }


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
    setups: list[Setup] = args.setup or [Setup.parse(text_) for text_ in DEFAULT_SETUPS]
    postgres_workers = Settings.model_construct(database_url="postgresql://", worker_processes="auto").workers()
    workers = (
        f"{args.workers} worker process{'es' if args.workers > 1 else ''}"
        if args.workers is not None
        else f"worker processes auto (1 on SQLite, {postgres_workers} on PostgreSQL here)"
    )
    print(
        f"approval throughput: {args.k} approvals from {args.c} clients, sandbox latency {args.latency:g} s, "
        f"{workers} per instance"
    )
    print(f"{'setup':<26} {'seconds':>8} {'approvals/s':>12} {'click p50 ms':>13} {'click p99 ms':>13}")
    postgres = PostgresServer().start() if any(setup.database == "postgresql" for setup in setups) else None
    try:
        for setup in setups:
            result = run(setup, args.k, clients=args.c, latency=args.latency, workers=args.workers, postgres=postgres)
            print(
                f"{setup!s:<26} {result['seconds']:>8.2f} {result['per_second']:>12.1f} "
                f"{result['click_p50'] * 1000:>13.1f} {result['click_p99'] * 1000:>13.1f}"
            )
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
