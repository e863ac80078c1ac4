"""APScheduler wiring for elevations: punctual timers plus a periodic sweep, all rebuilt from the database.

The `revert_reminder` rows are the source of truth; the scheduler keeps only in-memory jobs (no job store shared
between processes). At start it adds one job per live elevation at the moment it next needs attention (stable id
`elevation:<id>`, replace_existing), and a sweeper that runs at once and then every `sweep_seconds`, catching
anything missed while the bot was down. Jobs in several processes may fire for the same elevation; the services
claim work with conditional updates, so each reminder and revert still happens once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import Session

from services.context import ServiceContext
from services.sweeper import SweepReport, process_elevation, sweep, worker_name
from storage.elevations import live_elevations, next_moment

logger = logging.getLogger("accessbot.scheduler")
SWEEPER_JOB = "sweeper"


class ElevationScheduler:
    def __init__(self, *, sweep_seconds: float, worker: str | None = None) -> None:
        self._sweep_seconds = sweep_seconds
        self._worker = worker or worker_name()
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            # A timer that fires late (the machine slept, a long sweep) still runs; fires piled up run once.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._ctx: ServiceContext | None = None
        self._after_sweep: Callable[[], object] | None = None
        self._lock = threading.Lock()
        self.last_sweep: datetime | None = None
        self.last_report: SweepReport | None = None

    def bind(self, ctx: ServiceContext, *, after_sweep: Callable[[], object] | None = None) -> None:
        """The services this scheduler drives (they also tell it about new elevations through `elevation_due`),
        and what to run after every sweep (delivering the Slack messages that waited for Slack)."""
        self._ctx = ctx
        self._after_sweep = after_sweep

    @property
    def worker(self) -> str:
        return self._worker

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        ctx = self._services
        self._scheduler.start()
        self.rebuild()
        self._scheduler.add_job(
            self.sweep_now,
            "interval",
            seconds=self._sweep_seconds,
            id=SWEEPER_JOB,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
        logger.info(
            "scheduler started: sweeping every %ss as %s (clock %s)",
            self._sweep_seconds,
            self._worker,
            type(ctx.clock).__name__,
        )

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def rebuild(self) -> int:
        """One timer per live elevation, from the table. Returns how many were scheduled."""
        with Session(self._services.engine) as session:
            rows = live_elevations(session=session)
        for row in rows:
            assert row.id is not None
            self.elevation_due(row.id, next_moment(row))
        return len(rows)

    def elevation_due(self, elevation_id: int, at: datetime | None) -> None:
        job_id = f"elevation:{elevation_id}"
        if at is None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(job_id)
            return
        self._scheduler.add_job(self._fire, "date", run_date=at, id=job_id, replace_existing=True, args=[elevation_id])

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    def sweep_now(self) -> SweepReport:
        report = sweep(self._services, worker=self._worker)
        with self._lock:
            self.last_sweep = datetime.now(UTC)
            self.last_report = report
        if any(count for _, count in report):
            logger.info("sweep: %s", report)
        if self._after_sweep is not None:
            try:
                self._after_sweep()
            except Exception:
                logger.exception("after the sweep")
        return report

    def _fire(self, elevation_id: int) -> None:
        try:
            self.elevation_due(elevation_id, process_elevation(self._services, elevation_id))
        except Exception:
            # The sweep retries anything this timer did not finish.
            logger.exception("timer for elevation %s failed", elevation_id)

    @property
    def _services(self) -> ServiceContext:
        assert self._ctx is not None, "bind() the scheduler to the services first"
        return self._ctx
