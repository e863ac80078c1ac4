"""What the database says, for `/healthz` and `/metrics`: read where the database is (serve's worker, which the
front asks; the one process of the console and the tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.health import DatabaseState
from bot.metrics import DATABASE_UP, DATABASE_UP_HELP
from storage.ledger import overdue
from storage.outbox import pending_by_lane, pending_count
from storage.requests import counts_by_status
from storage.schema import current_revision


def database_state(engine: Engine) -> DatabaseState:
    try:
        with Session(engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            outbox = pending_count(session=session)
        return DatabaseState(database="ok", schema_revision=current_revision(engine), slack_outbox=outbox)
    except Exception as error:
        return DatabaseState(database=f"unreachable: {type(error).__name__}")


def database_metrics(engine: Engine, now: Callable[[], datetime]) -> bytes:
    """The gauges read from the database now, in the Prometheus text format."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(engine, now))
    return generate_latest(registry)


class DatabaseCollector:
    """Gauges read from the database at each scrape."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    def collect(self) -> Iterator[Metric]:
        now = self._now()
        try:
            with Session(self._engine) as session:
                statuses = counts_by_status(session=session)
                late, earliest = overdue(session=session, now=now)
                lanes = pending_by_lane(session=session)
        except Exception:
            yield GaugeMetricFamily(DATABASE_UP, DATABASE_UP_HELP, value=0)
            return
        yield GaugeMetricFamily(DATABASE_UP, DATABASE_UP_HELP, value=1)
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
