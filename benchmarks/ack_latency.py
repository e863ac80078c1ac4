"""How long Slack waits for the bot to answer `/access add`, next to a bare Bolt app that only acknowledges.

    python benchmarks/ack_latency.py                  # 3 rounds of M = 1,000 requests from C = 10 clients
    python benchmarks/ack_latency.py --m 300 --c 4 --rounds 1
    python benchmarks/ack_latency.py --slow-clients 150   # with 150 slowloris connections held open to each app

In one run: `accessbot serve` (SQLite, the sandbox) and the bare app (benchmarks/bare_bolt.py) are started as
processes behind the same HTTP server, both talking to one local Slack Web API in a third process. In each round
each app gets M signed `/access add` requests over HTTP from C concurrent clients (after a short warm-up), and the
benchmark prints the p50, p99 and worst latency of each over all rounds, the ratio of the p99s (also round by
round), and how long the bot took to finish the work behind its acknowledgements (every request stored and its
approval card posted). Slack gives an app 3 seconds to answer.

With `--slow-clients N`, N connections to each app start a request and then trickle one byte every 2 seconds
(under the server's idle timeout, as a slowloris does) for the whole measurement: each slow client costs a socket,
so signed requests must still be answered well within Slack's limit.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.processes import SlackEndpoint, every, percentile, send_all, slack_process, wait_until
from bot.console.payloads import SignedRequest, SlackRequests
from storage.db import make_engine
from tests.faults.cluster import ALICE, LOCAL_HTTP, SECRET, TOKEN, BotProcess, free_port, write_config

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
        return LOCAL_HTTP.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def slow_clients(url: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that send a request's first bytes, then one more byte every 2 s until the block ends."""
    if count == 0:
        yield []
        return
    address = httpx.URL(url)
    opened = []
    for _ in range(count):
        client = socket.create_connection((address.host, address.port or 80), timeout=5)
        client.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        opened.append(client)

    def trickle() -> None:
        for client in opened:
            with suppress(OSError):  # the server closed it: counted at the end
                client.sendall(b"a")

    try:
        with every(2.0, trickle):
            yield opened
    finally:
        for client in opened:
            client.close()


def still_open(clients: list[socket.socket]) -> int:
    """How many of these connections the server has not closed."""
    alive = 0
    for client in clients:
        client.setblocking(False)
        try:
            alive += client.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive += 1  # nothing to read and not closed
        except OSError:
            pass
    return alive


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


@dataclass(frozen=True)
class Round:
    bare: list[float]
    bot: list[float]
    work_seconds: float  # from the bot's first request to its last card
    slow_open: int  # of the slow clients held to the bot, how many were still connected when its round ended


def run(m: int, clients: int, rounds: int = 3, slow: int = 0) -> dict[str, Any]:
    """`rounds` times: M requests to the bare app, then M to the bot, then wait until the bot's work is done, so that
    the next round's bare app does not share the machine with it. The percentiles are over all rounds together: a
    p99 of one round is its tenth-worst answer in a thousand, which one hiccup of the machine can move."""
    measured: list[Round] = []
    with tempfile.TemporaryDirectory() as name, slack_process() as slack:
        folder = Path(name)
        requests = SlackRequests(signing_secret=SECRET, response_base=slack.response_base)
        database_url = f"sqlite:///{folder}/accessbot.db"
        config = write_config(folder, database_url, latency=0.0, lease=30.0)
        bot = BotProcess("bot", config, slack.api_url, folder).start()
        engine = make_engine(database_url)
        try:
            bot.wait_healthy()
            with bare_bolt(slack, folder) as bare_url:
                for n in range(rounds):
                    first = n * (m + WARM_UP)
                    with slow_clients(bare_url, slow):
                        bare = measure(bare_url, requests, m, clients, first=first)
                    started = time.perf_counter()
                    with slow_clients(f"{bot.url}/slack/events", slow) as held:
                        ours = measure(f"{bot.url}/slack/events", requests, m, clients, first=first)
                        slow_open = still_open(held)
                    _wait_for_cards(engine, (n + 1) * (m + WARM_UP))
                    measured.append(Round(bare, ours, time.perf_counter() - started, slow_open))
        finally:
            bot.stop()
            engine.dispose()
    bare = [latency for one in measured for latency in one.bare]
    ours = [latency for one in measured for latency in one.bot]
    return {
        "m": m,
        "clients": clients,
        "rounds": rounds,
        "bare_p50": percentile(bare, 0.5),
        "bare_p99": percentile(bare, 0.99),
        "bare_max": max(bare),
        "bot_p50": percentile(ours, 0.5),
        "bot_p99": percentile(ours, 0.99),
        "bot_max": max(ours),
        "ratio_p99": percentile(ours, 0.99) / percentile(bare, 0.99),
        "round_ratios": [percentile(one.bot, 0.99) / percentile(one.bare, 0.99) for one in measured],
        "work_seconds": sum(one.work_seconds for one in measured) / rounds,
        "slow": slow,
        "slow_open": min(one.slow_open for one in measured),
    }


def _wait_for_cards(engine: Engine, count: int) -> None:
    carded = "SELECT count(*) FROM access_request WHERE card_ts IS NOT NULL"

    def all_carded() -> bool:
        with engine.connect() as connection:
            return int(connection.execute(text(carded)).scalar() or 0) >= count

    wait_until(all_carded, timeout=600, what="every request's approval card")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--m", type=int, default=1_000, help="requests per app and round (default 1,000)")
    parser.add_argument("--c", type=int, default=10, help="concurrent clients (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each bare app then bot (default 3)")
    parser.add_argument(
        "--slow-clients", type=int, default=0, help="slowloris connections held open to each app meanwhile (default 0)"
    )
    args = parser.parse_args()
    result = run(args.m, args.c, args.rounds, args.slow_clients)
    print(
        f"ack latency: {args.rounds} x {args.m} signed /access add over HTTP per app, {args.c} concurrent clients, "
        "SQLite + sandbox"
    )
    print(f"{'':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for who in ("bare", "bot"):
        figures = [result[f"{who}_{key}"] * 1000 for key in ("p50", "p99", "max")]
        label = "bare Bolt" if who == "bare" else "accessbot"
        print(f"{label:>10} {figures[0]:>8.1f} {figures[1]:>8.1f} {figures[2]:>8.1f}")
    rounds = ", ".join(f"{ratio:.2f}" for ratio in result["round_ratios"])
    print(f"p99 ratio accessbot / bare Bolt: {result['ratio_p99']:.2f} (target <= 1.5); round by round: {rounds}")
    print(f"accessbot p99 is {result['bot_p99'] / SLACK_LIMIT:.1%} of Slack's {SLACK_LIMIT:.0f} s limit")
    if result["slow"]:
        print(
            f"with {result['slow']} slow clients held to each app ({result['slow_open']} still connected to accessbot "
            f"at the end of its round): accessbot's worst answer {result['bot_max']:.2f} s"
        )
    rate = (args.m + WARM_UP) / result["work_seconds"]
    print(f"work behind the acks (stored, card posted): {result['work_seconds']:.1f} s a round, {rate:.0f} requests/s")


if __name__ == "__main__":
    main()
