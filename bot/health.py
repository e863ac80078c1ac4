"""`GET /healthz`: can this instance do its work? The database and Slack answer, the scheduler runs and has swept
lately. It also names the platforms that are degraded (not answering in time)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from bot.slack_link import SlackLink
    from bot.worker import Workers


class SchedulerState(Protocol):
    """What health needs of a scheduler: the Scheduler itself, or serve's worker process running one."""

    @property
    def worker(self) -> str: ...

    @property
    def running(self) -> bool: ...

    @property
    def last_sweep(self) -> datetime | None: ...


class DatabaseState(BaseModel):
    """What the database answered (bot/readings.py reads it, in serve's worker)."""

    database: str  # "ok", or what went wrong
    schema_revision: str | None = None
    # Slack messages waiting for Slack (an outage); a number that keeps growing deserves a look.
    slack_outbox: int | None = None

    @property
    def ok(self) -> bool:
        return self.database == "ok"


#: What serve's front reports when its worker did not say what the database answered.
NOT_ASKED = DatabaseState(database="not checked: the worker did not answer")


class Health(BaseModel):
    ok: bool
    instance: str
    database: str  # "ok", or what went wrong
    schema_revision: str | None = None
    scheduler: str  # running | stopped
    last_sweep: datetime | None = None
    # Slack messages waiting for Slack (an outage); a number that keeps growing deserves a look.
    slack_outbox: int | None = None
    # serve's worker process (bot/worker.py): its pid, how often it was started again, requests waiting for it.
    worker_pid: int | None = None
    worker_pids: list[int] = []  # every worker process's, when `worker_processes` runs more than one
    worker_restarts: int | None = None
    work_queued: int | None = None
    # "ok" once Slack answered the bot's token; else why not (serve starts during a Slack outage and keeps asking).
    slack: str | None = None
    # Platforms whose calls pass their deadline, or that hold every slot of their bulkhead without answering. Their
    # own work waits and is tried again; the instance itself is fine, so `ok` does not change.
    degraded_platforms: list[str] = []
    problems: list[str] = []


def check(
    database: DatabaseState,
    scheduler: SchedulerState,
    *,
    sweep_seconds: float,
    worker: Workers | None = None,
    slack: SlackLink | None = None,
    degraded: Iterable[str] = (),
) -> Health:
    problems: list[str] = []
    if slack is not None and not slack.answered:
        problems.append(f"{slack.problem}: asking again; messages wait in the outbox until Slack answers")
    if worker is not None and not worker.alive:
        problems.append("the worker process is not running (starting, or starting again): answered requests wait")
    if not database.ok:
        problems.append("the database does not answer" if database is not NOT_ASKED else "the database was not checked")
    running = scheduler.running
    if not running:
        problems.append("the scheduler is not running: reminders and reverts wait")
    last = scheduler.last_sweep
    # A sweep runs every `sweep_seconds`; three missed in a row means it is stuck.
    if running and last is not None and datetime.now(UTC) - last > timedelta(seconds=max(3 * sweep_seconds, 60)):
        problems.append(f"no sweep since {last.isoformat(timespec='seconds')}")
    return Health(
        ok=not problems,
        instance=scheduler.worker,
        database=database.database,
        schema_revision=database.schema_revision,
        scheduler="running" if running else "stopped",
        last_sweep=last,
        slack_outbox=database.slack_outbox,
        worker_pid=worker.pid if worker is not None else None,
        worker_pids=worker.pids if worker is not None else [],
        worker_restarts=worker.restarts if worker is not None else None,
        work_queued=worker.queued if worker is not None else None,
        slack=None if slack is None else "ok" if slack.answered else slack.problem,
        degraded_platforms=sorted(worker.degraded if worker is not None else degraded),
        problems=problems,
    )
