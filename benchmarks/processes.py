"""What the HTTP benchmarks share: a local Slack Web API in its own process (answering the bots' calls must not
compete with the load generator for one interpreter), concurrent senders, and percentiles."""

from __future__ import annotations

import argparse
import math
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

from bot.console.local_slack import LocalSlack
from bot.console.payloads import SignedRequest
from tests.faults.cluster import ALICE, BOB, TOKEN
from tests.postgres import PostgresServer


@dataclass(frozen=True)
class SlackEndpoint:
    base_url: str

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def response_base(self) -> str:
        return f"{self.base_url}/response"


def _serve_slack(connection: Connection) -> None:
    with LocalSlack(bot_token=TOKEN, users=[ALICE, BOB]) as slack:
        connection.send(slack.base_url)
        connection.recv()  # until told to stop


@contextmanager
def slack_process() -> Iterator[SlackEndpoint]:
    """A local Slack Web API (users Alice and Bob) in a child process, for as long as the block runs."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_serve_slack, args=(theirs,), daemon=True)
    process.start()
    try:
        yield SlackEndpoint(base_url=ours.recv())
        ours.send("stop")
        process.join(timeout=10)
    finally:
        if process.is_alive():
            process.kill()


def send_all(
    urls: Sequence[str], requests: Sequence[SignedRequest], *, clients: int, check: Callable[[httpx.Response], None]
) -> list[float]:
    """POST every request from `clients` threads, each with its own keep-alive connection, spreading them over
    `urls` in turn; returns each request's latency in seconds (send to full answer), in order of completion."""
    latencies: list[float] = []
    lock = threading.Lock()
    work = iter(enumerate(requests))

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while True:
                with lock:
                    item = next(work, None)
                if item is None:
                    return
                index, signed = item
                started = time.perf_counter()
                response = http.post(urls[index % len(urls)], content=signed.body, headers=signed.headers)
                elapsed = time.perf_counter() - started
                check(response)
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


@contextmanager
def every(seconds: float, action: Callable[[], None]) -> Iterator[None]:
    """`action` every `seconds`, on a thread of its own, while the block runs; never after it has ended."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Setup:
    database: str  # sqlite | postgresql
    instances: int

    @classmethod
    def parse(cls, text_: str) -> Setup:
        database, _, count = text_.partition(":")
        if database not in ("sqlite", "postgresql") or not (count.isascii() and count.isdigit()) or int(count) < 1:
            raise argparse.ArgumentTypeError(f"{text_!r}: write sqlite:<instances> or postgresql:<instances>")
        return cls(database, int(count))

    def __str__(self) -> str:
        return f"{self.database}, {self.instances} instance{'s' if self.instances > 1 else ''}"


def database_url(setup: Setup, folder: Path, postgres: PostgresServer | None) -> str:
    """A new, empty database for the setup: a SQLite file in `folder`, or a database on the PostgreSQL server."""
    if setup.database == "sqlite":
        return f"sqlite:///{folder}/accessbot.db"
    assert postgres is not None
    return postgres.create_database()
