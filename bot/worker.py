"""`accessbot serve` runs as two processes: the front answers Slack, the worker does the work behind the answers.

Why two: Slack waits at most 3 seconds for each answer. In one process the work (the database, vendors' APIs,
drawing cards) and the threads answering Slack take turns at one interpreter, and the answers wait for their turn.
In its own process, at a lower CPU priority, the work no longer delays an answer. On two cores with ten clients
(benchmarks/ack_latency.py), one process answered with a p99 1.6 to 2 times a bare Bolt app's, two processes with
1.1 to 1.2 times.

The front answers from the payload and the configuration alone (bot/front.py, handlers/answers.py) and never opens
the database. It puts each piece of work on a queue (bot/handoff.py), and the worker dispatches it to its own Bolt
app, built by the composition root (bot/bootstrap.py) on the same routes, which runs only the work. The worker's
app checks no signatures: the front has checked them, and queued work may outlive a signature's five minutes.

The worker creates or checks the schema before the front serves (a problem ends `serve` in one line, which the
worker sends the front), and tells the front what the database says when `/healthz` or `/metrics` asks. It also
runs the scheduler (reminders, reverts, sweeps, the Slack outbox). It ends when the front ends, even
by kill -9, and the front starts another if it dies alone. Work a crash cuts short is recovered from the database
(claims and leases) as after any crash; work still queued in a dead worker is lost, and the log says how much.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized, SynchronizedString
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, cast

from bot.errors import ConfigError
from services.logs import INSTANCE_ENV

if TYPE_CHECKING:  # the front starts the worker before it loads any of these (see Worker.start)
    from slack_bolt import App

    from bot.bootstrap import Runtime
    from bot.handoff import Work
    from bot.health import DatabaseState
    from bot.settings import Settings

logger = logging.getLogger("accessbot.worker")

# Threads working at once: mostly waiting on vendors' APIs and Slack, so several.
THREADS = 10
# The worker yields the CPU to the front: an answer to Slack is due in 3 seconds, the work behind it is not.
NICENESS = 10
# The worker says it is alive this often; the front calls it stuck after HEARTBEAT_STALE seconds of silence.
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_STALE = 15.0
# A worker that keeps dying is started again after a growing pause, up to this long.
MAX_RESTART_PAUSE = 30.0
# Room for the names of the degraded platforms.
DEGRADED_BYTES = 1024
# How long /healthz and /metrics wait for the worker to say what the database answered, and how long an answer
# serves every other caller.
ANSWER_SECONDS = 2.0
ANSWER_FRESH = 1.0
HEALTH, METRICS = "health", "metrics"


@dataclass(frozen=True)
class Status:
    """What the worker tells the front, in shared memory; `GET /healthz` reads it."""

    heartbeat: Synchronized[float]  # time.time() of the last sign of life; 0 until the worker is ready
    scheduler_running: Synchronized[bool]
    last_sweep: Synchronized[float]  # time.time() of the last sweep; 0 before the first
    degraded: SynchronizedString  # the names of the platforms that are not answering in time, comma-separated
    stop: Event  # finish what is queued, then end


@dataclass(frozen=True)
class Setup:
    """What the front sends a worker that has loaded its code, once the settings are read and Slack checked: go."""

    settings: Settings
    instance: str
    log_level: str


@dataclass(frozen=True)
class Ready:
    """The worker has built (the schema created or checked): the front may serve."""


@dataclass(frozen=True)
class Refused:
    """The worker could not build; `problem` is the one line the front prints."""

    problem: str


@dataclass(frozen=True)
class Question:
    """The front asks what the database says: HEALTH (a DatabaseState) or METRICS (a page of gauges)."""

    number: int
    about: str


@dataclass(frozen=True)
class Answer:
    number: int
    value: object


class Worker:
    """The front's handle on the worker process: starts it, feeds it, watches it, starts another if it dies."""

    def __init__(self, *, threads: int = THREADS) -> None:
        self._setup: Setup | None = None
        self._threads = threads
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or sockets inherited
        self._status = Status(
            heartbeat=self._context.Value("d", 0.0),
            scheduler_running=self._context.Value("b", False),
            last_sweep=self._context.Value("d", 0.0),
            degraded=self._context.Array("c", DEGRADED_BYTES),  # type: ignore[arg-type]
            stop=self._context.Event(),
        )
        # The front's end of the current process's line: its setup goes down it, then questions; Ready or Refused
        # come back, then answers. One message at a time (a Connection is not thread-safe).
        self._line: Connection | None = None
        self._speaking = threading.Lock()
        self._questions = 0
        self._answers: dict[str, tuple[float, object | None]] = {}  # what each question got, and when
        self._queue: Queue[Work | None] = self._context.Queue()
        self._process: SpawnProcess | None = None
        self._stopping = False
        self.restarts = 0
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)

    def start(self) -> Worker:
        """Start the worker process first thing: a fresh interpreter loading the bot's code takes about a second
        and a half, which this overlaps with the front reading its settings and checking Slack. The worker waits
        for `go` before it reads anything or touches the database."""
        self._process = self._spawn()
        self._watcher.start()
        return self

    def go(self, settings: Settings, *, instance: str, log_level: str) -> None:
        """The settings are read: the worker creates or checks the schema, builds and starts (and so does any worker
        started after it dies). `ready` says when it has."""
        self._setup = Setup(settings=settings, instance=instance, log_level=log_level)
        self._send(self._setup)

    def _send(self, setup: Setup) -> None:
        with self._speaking:
            if self._line is None:
                return
            # OSError: that worker has ended already; the watcher starts another, which is sent its setup.
            with contextlib.suppress(OSError):
                self._line.send(setup)

    def ready(self) -> None:
        """Wait until the worker has built, having created or checked the schema. Raises ConfigError with the
        worker's one line when it could not (a database that does not answer, a schema behind the code)."""
        assert self._line is not None and self._process is not None
        line, process = self._line, self._process
        while True:
            wait([line, process.sentinel])
            try:
                message = line.recv() if line.poll() else None
            except (EOFError, OSError):
                message = None  # its end is closed: it ended (and the watcher may have closed ours)
            if isinstance(message, Ready):
                return
            if isinstance(message, Refused):
                raise ConfigError(message.problem)
            if message is None and not process.is_alive():
                raise ConfigError(
                    f"the worker process ended while starting (exit code {process.exitcode}); the log says why"
                )

    def ask_database(self) -> DatabaseState | None:
        """What the database answered the worker just now; None if the worker did not say in time."""
        return cast("DatabaseState | None", self._ask(HEALTH))

    def ask_metrics(self) -> bytes | None:
        """The gauges the worker read from the database just now; None if it did not say in time."""
        return cast("bytes | None", self._ask(METRICS))

    def _ask(self, about: str) -> object | None:
        """The worker's answer, or None if it gives none in ANSWER_SECONDS. An answer (or its absence) serves every
        caller for ANSWER_FRESH seconds: anyone can ask /healthz, and a flood of asks must neither queue up the
        front's threads, which answer Slack too, nor keep the worker busy."""
        with self._speaking:
            asked = self._answers.get(about)
            if asked is not None and time.monotonic() - asked[0] < ANSWER_FRESH:
                return asked[1]
            value = self._question(about)
            self._answers[about] = (time.monotonic(), value)
            return value

    def _question(self, about: str) -> object | None:
        line = self._line
        if line is None or not self.alive:
            return None
        self._questions += 1
        number = self._questions
        deadline = time.monotonic() + ANSWER_SECONDS
        try:
            line.send(Question(number, about))
            # Skipped: answers to questions that timed out, and a restarted worker's Ready.
            while (left := deadline - time.monotonic()) > 0 and line.poll(left):
                message = line.recv()
                if isinstance(message, Answer) and message.number == number:
                    return message.value
        except (OSError, EOFError):
            pass  # that worker ended; the watcher starts another
        return None

    def hand_off(self, work: Work) -> None:
        self._queue.put(work)  # never blocks: the queue's feeder thread writes to the pipe

    def stop(self, timeout: float = 60.0) -> None:
        """Let the worker finish what is queued and running, then end it."""
        self._stopping = True
        self._status.stop.set()
        if self._setup is None:
            # It never got going (the front could not start). Its line closes and it ends on its own, once it has
            # loaded: killed, it would leave the semaphores it shares with the front for the resource tracker to
            # warn about, on the front's standard error, after the one line that says why serve stopped.
            with self._speaking:
                if self._line is not None:
                    self._line.close()
                    self._line = None
            if self._process is None:
                return
            if self._watcher.is_alive():
                self._watcher.join(timeout)  # it waits for the process to end (its own wait), and starts no other
            if self._process.exitcode is None:
                self._process.kill()
                self._process.join()
            return
        for _ in range(self._threads):
            self._queue.put(None)
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                logger.warning("the worker did not finish within %ss; ending it", timeout)
                self._process.kill()
                self._process.join()

    # -- what GET /healthz reads (bot.health.SchedulerState) --------------------------------------------------------

    @property
    def worker(self) -> str:
        return self._setup.instance if self._setup is not None else ""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        beat = self._status.heartbeat.value
        running = self._process is not None and self._process.is_alive()
        return running and beat > 0 and time.time() - beat < HEARTBEAT_STALE

    @property
    def running(self) -> bool:
        """The scheduler runs, in a worker that is alive."""
        return self.alive and bool(self._status.scheduler_running.value)

    @property
    def last_sweep(self) -> datetime | None:
        at = self._status.last_sweep.value
        return datetime.fromtimestamp(at, UTC) if at else None

    @property
    def degraded(self) -> list[str]:
        """The platforms the worker finds not answering in time."""
        return [name for name in self._status.degraded.value.decode().split(",") if name]

    @property
    def queued(self) -> int | None:
        """Requests answered and waiting for the worker (None where the system cannot count them: macOS)."""
        try:
            return self._queue.qsize()
        except NotImplementedError:
            return None

    def _spawn(self) -> SpawnProcess:
        self._status.heartbeat.value = 0.0
        self._status.scheduler_running.value = False
        theirs, ours = self._context.Pipe(duplex=True)
        with self._speaking:
            if self._line is not None:
                self._line.close()  # the line of a worker that ended
            self._line = ours
        process = self._context.Process(
            target=run,
            args=(theirs, self._queue, self._status, self._threads),
            name="accessbot-worker",
            daemon=True,
        )
        process.start()
        theirs.close()  # the worker's end, which it has now
        logger.info("worker started (pid %s)", process.pid)
        if self._setup is not None:
            self._send(self._setup)
        return process

    def _watch(self) -> None:
        pause = 1.0
        while True:
            assert self._process is not None
            started = time.monotonic()
            self._process.join()
            if self._stopping:
                return
            lost = self.queued
            logger.error(
                "the worker (pid %s) ended with exit code %s; %s answered request(s) were waiting for it and are "
                "lost (their people may ask again). Starting another in %.0fs.",
                self._process.pid,
                self._process.exitcode,
                "some" if lost is None else lost,
                pause,
            )
            # It may have died holding the queue's lock: the next worker gets a new queue.
            self._queue = self._context.Queue()
            time.sleep(pause)
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, MAX_RESTART_PAUSE)
            if self._stopping:
                return
            self.restarts += 1
            self._process = self._spawn()


class Workers:
    """serve's worker processes: as many as `Settings.workers()` says, all fed by this one front.

    A Python process works on one core at a time, so more processes let the work use more cores. Each is like an
    instance of its own, with its own name in claims (the first takes the front's name, the others add /2, /3...),
    its own scheduler and its own queue; the front hands the pieces of work to them in turn.
    Worth it on PostgreSQL, which takes writes from several processes at once; on SQLite, one writes at a time.
    """

    def __init__(self) -> None:
        self._all: list[Worker] = []
        self._turn = 0

    def start(self) -> Workers:
        """The first worker, started before the settings are read (see Worker.start); `go` starts the others."""
        self._all.append(Worker().start())
        return self

    def go(self, settings: Settings, *, instance: str, log_level: str) -> None:
        while len(self._all) < settings.workers():
            self._all.append(Worker().start())
        for index, worker in enumerate(self._all):
            name = instance if index == 0 else f"{instance}/{index + 1}"
            worker.go(settings, instance=name, log_level=log_level)

    def ready(self) -> None:
        for worker in self._all:
            worker.ready()

    def hand_off(self, work: Work) -> None:
        """To each live worker in turn. (Not to the one with the least queued: a worker takes work off its queue at
        once, onto its threads, however busy its one core is, so its queue says little.)"""
        # Each request passes here: with one worker there is nothing to choose, so its liveness is not read.
        alive = self._all if len(self._all) == 1 else [worker for worker in self._all if worker.alive] or self._all
        self._turn += 1
        alive[self._turn % len(alive)].hand_off(work)

    def stop(self, timeout: float = 60.0) -> None:
        """Let every worker finish what is queued and running, at the same time, then end them."""
        stopping = [threading.Thread(target=worker.stop, args=(timeout,)) for worker in self._all]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def ask_database(self) -> DatabaseState | None:
        return self._first_alive().ask_database()

    def ask_metrics(self) -> bytes | None:
        return self._first_alive().ask_metrics()

    def _first_alive(self) -> Worker:
        return next((worker for worker in self._all if worker.alive), self._all[0])

    # -- what GET /healthz reads: the instance is well when every worker is ----------------------------------------

    @property
    def worker(self) -> str:
        return self._all[0].worker

    @property
    def pid(self) -> int | None:
        return self._all[0].pid

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self._all if worker.pid is not None]

    @property
    def alive(self) -> bool:
        return all(worker.alive for worker in self._all)

    @property
    def running(self) -> bool:
        return all(worker.running for worker in self._all)

    @property
    def last_sweep(self) -> datetime | None:
        """The oldest of the workers' last sweeps: one that stopped sweeping shows."""
        sweeps = [worker.last_sweep for worker in self._all]
        return None if None in sweeps else min(sweep for sweep in sweeps if sweep is not None)

    @property
    def degraded(self) -> list[str]:
        return sorted({name for worker in self._all for name in worker.degraded})

    @property
    def queued(self) -> int | None:
        counts = [worker.queued for worker in self._all]
        return None if None in counts else sum(count for count in counts if count is not None)

    @property
    def restarts(self) -> int:
        return sum(worker.restarts for worker in self._all)


def run(line: Connection, queue: Queue[Work | None], status: Status, threads: int) -> None:
    """The worker process: the same work as the front's answers name, fed by the queue, and the scheduler."""
    # Ctrl-C reaches the whole process group, and some service managers signal every process of a service: the
    # front decides when the worker stops, after the last answered request (Worker.stop).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The code first, while the front reads its settings and checks Slack.
    from slack_bolt.error import BoltError
    from sqlalchemy.exc import OperationalError

    from bot.bootstrap import bootstrap
    from bot.errors import database_problem
    from bot.logs import configure_logging
    from storage.schema import SchemaBehind

    parent = multiprocessing.parent_process()
    try:
        setup: Setup | None = line.recv()
    except EOFError:
        setup = None
    if setup is None or status.stop.is_set():
        return  # the front could not start (its settings, Slack) and has said why
    settings = setup.settings
    os.environ[INSTANCE_ENV] = setup.instance  # claims and log lines name the instance, as the front's do
    configure_logging(setup.log_level, settings.log_format)
    try:
        # Creates the schema, or checks that it is the code's.
        runtime = bootstrap(settings, require_signing_secret=False, verify_requests=False)
    except (ConfigError, BoltError, SchemaBehind, OperationalError) as error:
        problem = database_problem(settings.database_url, error) if isinstance(error, OperationalError) else str(error)
        # The front prints it and ends (or, for a worker started again, the watcher tries again later).
        logger.error("the worker could not start: %s", problem)
        with contextlib.suppress(OSError):
            line.send(Refused(problem))
        sys.exit(2)
    assert runtime.app is not None
    # Ready at full speed (the front is starting too, and answers nothing until the worker is up); from here on its
    # work yields to the front's answers. Threads started from now on inherit the lower priority.
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    scheduler = runtime.scheduler
    scheduler.start()
    workers = [
        threading.Thread(target=_work, args=(runtime.app, queue), name=f"work-{n}", daemon=True) for n in range(threads)
    ]
    for thread in workers:
        thread.start()
    line.send(Ready())
    threading.Thread(target=_answer, args=(line, runtime), name="answers", daemon=True).start()
    while not status.stop.is_set():
        status.scheduler_running.value = scheduler.running
        status.last_sweep.value = scheduler.last_sweep.timestamp() if scheduler.last_sweep else 0.0
        degraded = ",".join(name for name, platform in runtime.services.platforms.items() if platform.degraded)
        status.degraded.value = degraded.encode()[: DEGRADED_BYTES - 1]
        status.heartbeat.value = time.time()
        if parent is not None and wait([parent.sentinel], timeout=HEARTBEAT_SECONDS):
            # The front is gone (kill -9 leaves it no time to say so): end as abruptly, as one instance.
            os._exit(1)
    for thread in workers:
        thread.join()  # each ends at its None, after everything queued before it
    runtime.close()


def _answer(line: Connection, runtime: Runtime) -> None:
    """Tell the front what the database says, for /healthz and /metrics, when it asks."""
    from bot.readings import database_metrics, database_state

    while True:
        try:
            question: Question = line.recv()
        except (EOFError, OSError):
            return  # the front is gone
        if question.about == HEALTH:
            value: object = database_state(runtime.engine)
        else:
            value = database_metrics(runtime.engine, runtime.services.clock.now)
        try:
            line.send(Answer(question.number, value))
        except OSError:
            return


def _work(app: App, queue: Queue[Work | None]) -> None:
    while (work := queue.get()) is not None:
        try:
            app.dispatch(work.request())
        except Exception:
            # Listeners report their own errors (handlers/listening.py); this is Bolt failing around them.
            logger.exception("could not run %s", work.function)
