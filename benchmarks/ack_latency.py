"""How long Slack waits for the bot to answer `/access add`, next to a bare Bolt app that only acknowledges.

    python benchmarks/ack_latency.py                  # M = 1,000 requests from C = 10 clients
    python benchmarks/ack_latency.py --m 300 --c 4

In one run: `accessbot serve` (SQLite, the sandbox) and the bare app (benchmarks/bare_bolt.py) are started as
processes behind the same HTTP server, both talking to one local Slack Web API in a third process. Each gets M
signed `/access add` requests over HTTP from C concurrent clients (after a short warm-up), and the benchmark prints
the p50, p99 and worst latency of each, the ratio of the p99s, and how long the bot took to finish the work behind
its acknowledgements (every request stored and its approval card posted). Slack gives an app 3 seconds to answer.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.processes import SlackEndpoint, percentile, send_all, slack_process, wait_until
from bot.console.payloads import SignedRequest, SlackRequests
from storage.db import make_engine
from tests.faults.cluster import ALICE, SECRET, TOKEN, BotProcess, free_port, write_config

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 20
SLACK_LIMIT = 3.0


@contextmanager
def bare_bolt(slack: SlackEndpoint, folder: Path) -> Iterator[str]:
    """The bare Bolt app as a process; yields its events URL."""
    port = free_port()
    environment = dict(
        os.environ,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        PYTHONPATH=str(ROOT),
    )
    with (folder / "bare.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bare_bolt", "--port", str(port)],
            env=environment,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _healthy(f"http://127.0.0.1:{port}"), timeout=30, what="the bare Bolt app")
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        process.kill()
        process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def add_requests(requests: SlackRequests, count: int, *, start: int = 0) -> list[SignedRequest]:
    """Distinct people, so that none is refused as a duplicate of another still waiting."""
    return [
        requests.slash_command(
            user=ALICE, text=f"add person{start + n}@agency.example sandbox analyst for 4h reason: load test"
        )
        for n in range(count)
    ]


def measure(url: str, requests: SlackRequests, m: int, clients: int, *, first: int) -> list[float]:
    # This process imported the bot's modules to sign requests: a full collection of that heap stalls every client
    # at once for tens of milliseconds, which would be counted against whichever app happened to be measured.
    gc.collect()
    gc.freeze()

    def acknowledged(response: httpx.Response) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")

    send_all([url], add_requests(requests, WARM_UP, start=first), clients=clients, check=acknowledged)
    return send_all([url], add_requests(requests, m, start=first + WARM_UP), clients=clients, check=acknowledged)


def run(m: int, clients: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as name, slack_process() as slack:
        folder = Path(name)
        requests = SlackRequests(signing_secret=SECRET, response_base=slack.response_base)
        database_url = f"sqlite:///{folder}/accessbot.db"
        config = write_config(folder, database_url, latency=0.0, lease=30.0)
        bot = BotProcess("bot", config, slack.api_url, folder).start()
        try:
            bot.wait_healthy()
            with bare_bolt(slack, folder) as bare_url:
                bare = measure(bare_url, requests, m, clients, first=0)
            started = time.perf_counter()
            ours = measure(f"{bot.url}/slack/events", requests, m, clients, first=0)
            engine = make_engine(database_url)
            carded = "SELECT count(*) FROM access_request WHERE card_ts IS NOT NULL"

            def all_carded() -> bool:
                with engine.connect() as connection:
                    return int(connection.execute(text(carded)).scalar() or 0) >= m + WARM_UP

            wait_until(all_carded, timeout=600, what="every request's approval card")
            finished = time.perf_counter() - started
            engine.dispose()
        finally:
            bot.stop()
    return {
        "m": m,
        "clients": clients,
        "bare_p50": percentile(bare, 0.5),
        "bare_p99": percentile(bare, 0.99),
        "bare_max": max(bare),
        "bot_p50": percentile(ours, 0.5),
        "bot_p99": percentile(ours, 0.99),
        "bot_max": max(ours),
        "ratio_p99": percentile(ours, 0.99) / percentile(bare, 0.99),
        "work_seconds": finished,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--m", type=int, default=1_000, help="requests per app (default 1,000)")
    parser.add_argument("--c", type=int, default=10, help="concurrent clients (default 10)")
    args = parser.parse_args()
    result = run(args.m, args.c)
    print(f"ack latency: {args.m} signed /access add over HTTP, {args.c} concurrent clients, SQLite + sandbox")
    print(f"{'':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for who in ("bare", "bot"):
        figures = [result[f"{who}_{key}"] * 1000 for key in ("p50", "p99", "max")]
        label = "bare Bolt" if who == "bare" else "accessbot"
        print(f"{label:>10} {figures[0]:>8.1f} {figures[1]:>8.1f} {figures[2]:>8.1f}")
    print(f"p99 ratio accessbot / bare Bolt: {result['ratio_p99']:.2f} (target <= 1.5)")
    print(f"accessbot p99 is {result['bot_p99'] / SLACK_LIMIT:.1%} of Slack's {SLACK_LIMIT:.0f} s limit")
    rate = (args.m + WARM_UP) / result["work_seconds"]
    print(f"work behind the acks (stored, card posted): {result['work_seconds']:.1f} s, {rate:.0f} requests/s")


if __name__ == "__main__":
    main()
