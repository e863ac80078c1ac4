"""`GET /metrics` in the Prometheus text format.

Two sources: what the processes measured as they worked (services/metrics.py), and what the database knows at the
moment of the scrape (bot/readings.py, read where the database is: serve's worker, which the front asks). `serve`
is two processes (the front answers Slack and `/metrics`, the worker does the work), so their measurements go
through prometheus-client's multiprocess mode: each process writes its own files in one folder, and the front adds
them up. Figures read from the database (requests by status, reverts overdue, the outbox) are the same from every
instance on one database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DATABASE_UP = "accessbot_database_up"
DATABASE_UP_HELP = "Whether the database answered this scrape"


@contextmanager
def measured_across_processes() -> Iterator[Path]:
    """For as long as the block runs, and before prometheus-client is first imported: a folder for this instance's
    processes to write their figures in (the worker it starts inherits it through the environment). It is the one
    PROMETHEUS_MULTIPROC_DIR names, emptied first as prometheus-client asks, or a new one removed at the end."""
    named = os.environ.get(MULTIPROC_ENV)
    if named:
        folder = Path(named)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="accessbot-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(folder, ignore_errors=True)


def scrape(database: bytes) -> tuple[bytes, str]:
    """The page `/metrics` answers with, and its content type: what the processes measured, then `database`, the
    figures read from the database at this scrape (bot/readings.py)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    import services.metrics  # noqa: F401  (the metrics exist, at zero, before anything was measured)

    if os.environ.get(MULTIPROC_ENV):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = REGISTRY  # one process (the console, the tests): its own measurements
    return generate_latest(processes) + database, CONTENT_TYPE_LATEST


def database_unread() -> bytes:
    """The database's part of the page when serve's worker did not say what the database answered in time."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    class Unread:
        def collect(self) -> Iterator[GaugeMetricFamily]:
            yield GaugeMetricFamily(DATABASE_UP, DATABASE_UP_HELP, value=0)

    registry = CollectorRegistry()
    registry.register(Unread())
    return generate_latest(registry)
