"""`GET /healthz`: can this instance do its work? The database and Slack answer, the scheduler runs and has swept
lately. It also names the platforms that are degraded (not answering in time)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.outbox import pending_count
from storage.schema import current_revision

if TYPE_CHECKING:
    from bot.slack_link import SlackLink
    from bot.worker import Worker


class SchedulerState(Protocol):
    """What health needs of a scheduler: the Scheduler itself, or serve's worker process running one."""

    @property
    def worker(self) -> str: ...

    @property
    def running(self) -> bool: ...

    @property
    def last_sweep(self) -> datetime | None: ...


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
    worker_restarts: int | None = None
    work_queued: int | None = None
    # "ok" once Slack answered the bot's token; else why not (serve starts during a Slack outage and keeps asking).
    slack: str | None = None
    # Platforms whose calls pass their deadline, or that hold every slot of their bulkhead without answering. Their
    # own work waits and is tried again; the instance itself is fine, so `ok` does not change.
    degraded_platforms: list[str] = []
    problems: list[str] = []


def check(
    engine: Engine,
    scheduler: SchedulerState,
    *,
    sweep_seconds: float,
    worker: Worker | None = None,
    slack: SlackLink | None = None,
    degraded: Iterable[str] = (),
) -> Health:
    problems: list[str] = []
    if slack is not None and not slack.answered:
        problems.append(f"{slack.problem}: asking again; messages wait in the outbox until Slack answers")
    if worker is not None and not worker.alive:
        problems.append("the worker process is not running (starting, or starting again): answered requests wait")
    database, revision, outbox = "ok", None, None
    try:
        with Session(engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            outbox = pending_count(session=session)
        revision = current_revision(engine)
    except Exception as error:
        database = f"unreachable: {type(error).__name__}"
        problems.append("the database does not answer")
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
        database=database,
        schema_revision=revision,
        scheduler="running" if running else "stopped",
        last_sweep=last,
        slack_outbox=outbox,
        worker_pid=worker.pid if worker is not None else None,
        worker_restarts=worker.restarts if worker is not None else None,
        work_queued=worker.queued if worker is not None else None,
        slack=None if slack is None else "ok" if slack.answered else slack.problem,
        degraded_platforms=sorted(worker.degraded if worker is not None else degraded),
        problems=problems,
    )
