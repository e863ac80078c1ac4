"""`accessbot serve` runs as two processes: the front answers Slack, the worker does the work behind the answers.

Why two: Slack waits at most 3 seconds for each answer. In one process the work (the database, vendors' APIs,
drawing cards) and the threads answering Slack take turns at one interpreter, and the answers wait for their turn.
In its own process, at a lower CPU priority, the work no longer delays an answer. On two cores with ten clients
(benchmarks/ack_latency.py), one process answered with a p99 1.6 to 2 times a bare Bolt app's, two processes with
1.1 to 1.2 times.

The front puts each piece of work on a queue (bot/handoff.py), and the worker dispatches it to its own Bolt app.
That app is built by the same composition root from the same settings, and runs only the work. The worker's app
checks no signatures: the front has checked them, and queued work may outlive a signature's five minutes.

The worker also runs the scheduler (reminders, reverts, sweeps, the Slack outbox). It ends when the front ends, even
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
from typing import TYPE_CHECKING

from services.logs import INSTANCE_ENV

if TYPE_CHECKING:  # the front starts the worker before it loads any of these (see Worker.start)
    from slack_bolt import App

    from bot.handoff import Work
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
    """What the front sends a worker that has loaded its code, once the database schema is ready: go."""

    settings: Settings
    instance: str
    log_level: str


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
        self._go: Connection | None = None  # the current process's end of the pipe its setup comes through
        self._queue: Queue[Work | None] = self._context.Queue()
        self._process: SpawnProcess | None = None
        self._stopping = False
        self.restarts = 0
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)

    def start(self) -> Worker:
        """Start the worker process first thing: a fresh interpreter loading the bot's code takes about a second
        and a half, which this overlaps with the front reading its settings and checking Slack and the schema. The
        worker waits for `go` before it reads anything or touches the database."""
        self._process = self._spawn()
        self._watcher.start()
        return self

    def go(self, settings: Settings, *, instance: str, log_level: str) -> None:
        """The settings are read and the schema is ready: the worker builds and starts (and so does any worker
        started after it dies)."""
        self._setup = Setup(settings=settings, instance=instance, log_level=log_level)
        self._send(self._setup)

    def _send(self, setup: Setup) -> None:
        if self._go is None:
            return
        # OSError: that worker has ended already; the watcher starts another, which is sent its setup.
        with contextlib.suppress(OSError):
            self._go.send(setup)

    def hand_off(self, work: Work) -> None:
        self._queue.put(work)  # never blocks: the queue's feeder thread writes to the pipe

    def stop(self, timeout: float = 60.0) -> None:
        """Let the worker finish what is queued and running, then end it."""
        self._stopping = True
        self._status.stop.set()
        if self._setup is None:
            # It never got going (the front could not start): it holds nothing, and need not finish loading.
            if self._process is not None:
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
        receiver, self._go = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run,
            args=(receiver, self._queue, self._status, self._threads),
            name="accessbot-worker",
            daemon=True,
        )
        process.start()
        receiver.close()  # the worker's end, which it has now
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


def run(go: Connection, queue: Queue[Work | None], status: Status, threads: int) -> None:
    """The worker process: the same app as the front, fed by the queue, and the scheduler."""
    # Ctrl-C reaches the whole process group, and some service managers signal every process of a service: the
    # front decides when the worker stops, after the last answered request (Worker.stop).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The code first, while the front reads its settings and checks the schema.
    from slack_bolt.error import BoltError

    from bot.bootstrap import bootstrap
    from bot.logs import configure_logging
    from bot.settings import ConfigError

    parent = multiprocessing.parent_process()
    try:
        setup: Setup | None = go.recv()
    except EOFError:
        setup = None
    if setup is None or status.stop.is_set():
        return  # the front could not start (its settings, its database) and has said why
    settings = setup.settings
    os.environ[INSTANCE_ENV] = setup.instance  # claims and log lines name the instance, as the front's do
    configure_logging(setup.log_level, settings.log_format)
    try:
        runtime = bootstrap(settings, require_signing_secret=False, verify_requests=False)
    except (ConfigError, BoltError) as error:
        # The front meets the same problem and says what to fix; one line here, no traceback.
        logger.error("the worker could not start: %s", error)
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


def _work(app: App, queue: Queue[Work | None]) -> None:
    while (work := queue.get()) is not None:
        try:
            app.dispatch(work.request())
        except Exception:
            # Listeners report their own errors (handlers/listening.py); this is Bolt failing around them.
            logger.exception("could not run %s", work.function)
