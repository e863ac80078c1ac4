"""APScheduler wiring: a periodic sweep, and one punctual wake-up at the next moment something is due.

The database is the source of truth (grant ends and reminders, accounts' due times); the scheduler keeps no job
store and only two in-memory jobs: the sweeper, which runs at once and then every `sweep_seconds` and catches
anything missed while the bot was down, and `next-due`, one date job at the earliest due moment, re-armed after
every sweep and whenever the services report an earlier one. However many grants are pending, it holds one timer.
Several processes may sweep at once; the services claim work with conditional updates, so each thing happens once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from services.context import ServiceContext
from services.logs import worker_name
from services.sweeper import SweepReport, next_moment, sweep

logger = logging.getLogger("accessbot.scheduler")
SWEEPER_JOB = "sweeper"
NEXT_DUE_JOB = "next-due"


class Rounds:
    """Rounds of some work (a sweep, a delivery) that callers ask for and wait on: a caller waits until a round that
    began after it asked is over."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._asked = 0
        self._served = 0  # the newest request a finished round covered

    def ask(self) -> int:
        with self._changed:
            self._asked += 1
            return self._asked

    def starting(self) -> int:
        """A round begins: the requests it covers."""
        with self._changed:
            return self._asked

    def over(self, covered: int) -> None:
        with self._changed:
            self._served = max(self._served, covered)
            self._changed.notify_all()

    def wait(self, request: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._served >= request, timeout)


class Scheduler:
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
        self._next_delivery: Callable[[], datetime | None] | None = None
        # What runs after a sweep (Slack deliveries) runs on its own thread, so that a Slack that is slow or asks to
        # wait never holds the next sweep up: one delivery at a time, and one more after it when asked meanwhile.
        self._courier: threading.Thread | None = None
        self._deliver = threading.Event()
        self._sweeps = Rounds()  # for `swept`
        self._deliveries = Rounds()  # for `delivered`
        self._lock = threading.Lock()
        self._armed: datetime | None = None
        self._stopping = False
        self._sweeping = False
        self._again = False
        self.last_sweep: datetime | None = None
        self.last_report: SweepReport | None = None

    def bind(
        self,
        ctx: ServiceContext,
        *,
        after_sweep: Callable[[], object] | None = None,
        next_delivery: Callable[[], datetime | None] | None = None,
    ) -> None:
        """The services this scheduler drives (they report new due moments through `due`), and what to run after
        every sweep, beside the sweeps (delivering the Slack messages that waited for Slack), and also at the moment
        `next_delivery` names (a digest held until then)."""
        self._ctx = ctx
        self._after_sweep = after_sweep
        self._next_delivery = next_delivery

    @property
    def worker(self) -> str:
        return self._worker

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        ctx = self._services
        self._scheduler.start()
        self._scheduler.add_job(
            self.sweep_now,
            "interval",
            seconds=self._sweep_seconds,
            id=SWEEPER_JOB,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
            # A tick during a long sweep only asks that sweep to look once more (sweep_now), instead of APScheduler
            # logging a warning for every tick it skips.
            max_instances=2,
        )
        logger.info(
            "scheduler started: sweeping every %ss as %s (clock %s)",
            self._sweep_seconds,
            self._worker,
            type(ctx.clock).__name__,
        )

    def shutdown(self) -> None:
        # No timer is armed from now on: APScheduler's shutdown waits for running jobs while holding the lock that
        # arming one needs, so a sweep ending now would otherwise wait for the shutdown that waits for it.
        with self._lock:
            self._stopping = True
        self._deliver.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._courier is not None:
            # A delivery cut short stays kept in the database; the next start sends it.
            self._courier.join(timeout=5)

    def due(self, at: datetime) -> None:
        """Something is due at `at`: make sure a sweep runs then."""
        with self._lock:
            if self._stopping:
                return
            if self._armed is not None and self._armed <= at and self._scheduler.get_job(NEXT_DUE_JOB) is not None:
                return
            self._armed = at
            self._scheduler.add_job(self.sweep_now, "date", run_date=at, id=NEXT_DUE_JOB, replace_existing=True)

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    def sweep_now(self) -> SweepReport:
        """Sweep, unless a sweep is running already in this process: that one then sweeps once more when it is done,
        so that nothing asked for meanwhile waits for the next period."""
        with self._lock:
            self._armed = None
            if self._sweeping:
                self._again = True
                return self.last_report or SweepReport()
            self._sweeping = True
        try:
            while True:
                serving = self._sweeps.starting()
                report = self._sweep_once()
                self._sweeps.over(serving)
                with self._lock:
                    if not self._again:
                        break
                    self._again = False
        finally:
            with self._lock:
                self._sweeping = False
        return report

    def _sweep_once(self) -> SweepReport:
        report = sweep(self._services, worker=self._worker)
        if any(count for _, count in report):
            logger.info("sweep: %s", report)
        upcoming = next_moment(self._services)
        if upcoming is not None:
            if upcoming <= self._services.clock.now():
                with self._lock:
                    self._again = True  # already due (it became due while sweeping): sweep again at once
            else:
                self.due(upcoming)
        # A sweep is done once the timer for what comes next is set: whoever reads `last_sweep` finds it armed.
        with self._lock:
            self.last_sweep = datetime.now(UTC)
            self.last_report = report
        self.deliver_soon()
        return report

    def deliver_soon(self) -> None:
        """Ask the courier to run what follows a sweep (and to look again at when the next held delivery is due),
        starting it the first time."""
        if self._after_sweep is None:
            return
        with self._lock:
            if self._stopping:
                return
            if self._courier is None:
                self._courier = threading.Thread(target=self._run_courier, name="slack-courier", daemon=True)
                self._courier.start()
        self._deliver.set()

    def swept(self, timeout: float = 30.0) -> bool:
        """Sweep now and wait until a sweep that began after this call is over (`sweep_now` returns at once when a
        sweep is running already, which may have read the clock before the caller moved it); False if none ended
        within `timeout` seconds."""
        wanted = self._sweeps.ask()
        self.sweep_now()
        return self._sweeps.wait(wanted, timeout)

    def delivered(self, timeout: float = 30.0) -> bool:
        """Run a delivery round now and wait until it is over (the console shows what a sweep said before its
        prompt comes back); False if it did not end within `timeout` seconds."""
        if self._after_sweep is None:
            return True
        wanted = self._deliveries.ask()
        self.deliver_soon()
        return self._deliveries.wait(wanted, timeout)

    def _run_courier(self) -> None:
        assert self._after_sweep is not None
        while True:
            self._deliver.wait(timeout=self._until_next_delivery())
            self._deliver.clear()
            with self._lock:
                if self._stopping:
                    return
            serving = self._deliveries.starting()
            try:
                self._after_sweep()
            except Exception:
                logger.exception("after the sweep")
            self._deliveries.over(serving)

    def _until_next_delivery(self) -> float | None:
        """Seconds until a held delivery is due (None: nothing is held; a sweep wakes the courier)."""
        if self._next_delivery is None:
            return None
        try:
            due = self._next_delivery()
        except Exception:
            logger.exception("could not read when the next delivery is due")
            return self._sweep_seconds
        if due is None:
            return None
        return max((due - datetime.now(UTC)).total_seconds(), 0.05)

    @property
    def _services(self) -> ServiceContext:
        assert self._ctx is not None, "bind() the scheduler to the services first"
        return self._ctx
