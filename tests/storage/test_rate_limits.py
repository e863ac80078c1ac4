"""Rate limits kept in the database: every process on one database shares one budget per platform host."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.db import make_engine
from storage.rate_limits import take_token
from storage.schema import ensure_schema

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_two_processes_share_one_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    ensure_schema(make_engine(url))
    front, worker = make_engine(url), make_engine(url)  # two processes' pools on one database
    # 60 a minute: one a second, in bursts of up to five.
    taken = [take_token(engine, key="api.heap.example", per_minute=60, now=NOW) for engine in (front, worker) * 3]
    assert taken[:5] == [0.0] * 5
    assert taken[5] == 1.0, "the sixth waits a second, whichever process asks"
    assert take_token(front, key="other.example", per_minute=60, now=NOW) == 0.0, "each host has its own"
    assert take_token(worker, key="api.heap.example", per_minute=60, now=NOW + timedelta(seconds=1)) == 0.0
    assert take_token(front, key="api.heap.example", per_minute=60, now=NOW + timedelta(seconds=1)) > 0


def test_of_many_takers_at_once_no_more_than_the_budget_get_through(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    ensure_schema(make_engine(url))
    engines = [make_engine(url) for _ in range(4)]
    results: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(engines))

    def take(engine_index: int) -> None:
        start.wait()
        for _ in range(5):
            got = take_token(engines[engine_index], key="h", per_minute=60, now=NOW)
            with lock:
                results.append(got)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(0.0) == 5, results
