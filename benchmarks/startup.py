"""How long `accessbot serve` takes to be healthy, and how much memory it holds, with many elevations pending.

    python benchmarks/startup.py                      # N = 0 and 100,000
    python benchmarks/startup.py --n 20000

For each N it writes N live elevations (each with a reminder due, ends tomorrow) into a new SQLite database, starts
`accessbot serve` on it against a local Slack Web API, and prints the seconds from start to the first `200` from
`/healthz`, then the resident memory (RSS) of the front and the worker a few sweeps later, when the scheduler has
read what is due. The worker's column counts every process the front started: the worker, and multiprocessing's
resource tracker. The scheduler keeps due times in the database and holds one timer for the next of them, so
neither figure should grow with N.

The bot runs from compiled bytecode, as it does once installed (`pip install` compiles every module): its modules
are compiled first (into their `__pycache__` folders), whatever PYTHONDONTWRITEBYTECODE says.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.seeding import seed_grants
from domain.catalog import RoleCatalog
from platforms.settings import SandboxSettings
from storage.db import make_engine
from storage.schema import ensure_schema
from tests.faults.cluster import LOCAL_HTTP, BotProcess, local_slack, write_config

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    """A process's resident memory, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def sweeps_seen(url: str) -> str | None:
    health = LOCAL_HTTP.get(f"{url}/healthz", timeout=5).json()
    return health.get("last_sweep")


def compile_bytecode() -> None:
    """Compile the bot's modules where Python looks for them, as installing the bot does."""
    packages = [str(ROOT / package) for package in ("bot", "domain", "handlers", "platforms", "services", "storage")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)


def run(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = f"sqlite:///{folder}/bot.db"
        engine = make_engine(url)
        ensure_schema(engine)
        catalog: RoleCatalog = SandboxSettings().catalog()
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        seed_grants(engine, catalog, n, ends_at=tomorrow, remind_at=tomorrow - timedelta(hours=1))
        engine.dispose()
        slack = local_slack()
        try:
            config = write_config(folder, url, latency=0.0, lease=60.0)
            bot = BotProcess("bot", config, slack.api_url, folder)
            started = time.perf_counter()
            bot.start()
            bot.wait_healthy(timeout=120)
            healthy = time.perf_counter() - started
            first = sweeps_seen(bot.url)
            deadline = time.monotonic() + 60
            while sweeps_seen(bot.url) == first and time.monotonic() < deadline:
                time.sleep(0.1)  # until the scheduler has swept again: everything it keeps is loaded by then
            assert bot.process is not None
            front = rss_mb(bot.process.pid)
            workers = children(bot.process.pid)
            worker = sum(rss_mb(pid) for pid in workers)
            bot.stop()
        finally:
            slack.stop()
    return {"n": n, "healthy_seconds": healthy, "front_mb": front, "worker_mb": worker, "total_mb": front + worker}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="pending elevations (repeatable)")
    args = parser.parse_args()
    compile_bytecode()
    print("start-up benchmark: accessbot serve on SQLite, local Slack, compiled bytecode")
    print(f"{'N pending':>10} {'healthy s':>10} {'front MB':>9} {'worker MB':>10} {'total MB':>9}")
    for n in args.n or [0, 100_000]:
        result = run(n)
        print(
            f"{result['n']:>10} {result['healthy_seconds']:>10.2f} {result['front_mb']:>9.1f} "
            f"{result['worker_mb']:>10.1f} {result['total_mb']:>9.1f}"
        )


if __name__ == "__main__":
    main()
