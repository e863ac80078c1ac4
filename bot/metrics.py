"""`GET /metrics` in the Prometheus text format.

Two sources: what the processes measured as they worked (services/metrics.py), and what the database knows at the
moment of the scrape. `serve` is two processes (the front answers Slack and `/metrics`, the worker does the work),
so their measurements go through prometheus-client's multiprocess mode: each process writes its own files in one
folder, and the front adds them up. Figures read from the database (requests by status, reverts overdue, the
outbox) are the same from every instance on one database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from sqlalchemy.engine import Engine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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


def scrape(engine: Engine, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> tuple[bytes, str]:
    """The page `/metrics` answers with, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    import services.metrics  # noqa: F401  (the metrics exist, at zero, before anything was measured)

    if os.environ.get(MULTIPROC_ENV):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = REGISTRY  # one process (the console, the tests): its own measurements
    database = CollectorRegistry()
    database.register(DatabaseCollector(engine, now))
    return generate_latest(processes) + generate_latest(database), CONTENT_TYPE_LATEST


class DatabaseCollector:
    """Gauges read from the database at each scrape."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily
        from sqlmodel import Session

        from storage.ledger import overdue
        from storage.outbox import pending_by_lane
        from storage.requests import counts_by_status

        now = self._now()
        try:
            with Session(self._engine) as session:
                statuses = counts_by_status(session=session)
                late, earliest = overdue(session=session, now=now)
                lanes = pending_by_lane(session=session)
        except Exception:
            yield GaugeMetricFamily("accessbot_database_up", "Whether the database answered this scrape", value=0)
            return
        yield GaugeMetricFamily("accessbot_database_up", "Whether the database answered this scrape", value=1)
        requests = GaugeMetricFamily(
            "accessbot_requests",
            "Requests by verb and where they stand (pending, applied, failed, ...)",
            labels=["verb", "status"],
        )
        for verb, status, count in statuses:
            requests.add_metric([verb, status], count)
        yield requests
        yield GaugeMetricFamily(
            "accessbot_reverts_overdue", "Temporary grants past their end whose access is not verified gone", value=late
        )
        yield GaugeMetricFamily(
            "accessbot_reverts_overdue_seconds",
            "How long the most overdue of them is past its end (0 when none is)",
            value=(now - earliest).total_seconds() if earliest is not None else 0.0,
        )
        depth = GaugeMetricFamily(
            "accessbot_outbox_pending", "Slack calls waiting to be sent, by lane", labels=["lane"]
        )
        age = GaugeMetricFamily(
            "accessbot_outbox_oldest_seconds",
            "How long the oldest waiting Slack call has waited, by lane",
            labels=["lane"],
        )
        for lane in ("now", "background"):
            count, oldest = lanes.get(lane, (0, None))
            depth.add_metric([lane], count)
            age.add_metric([lane], (now - oldest).total_seconds() if oldest is not None else 0.0)
        yield depth
        yield age
