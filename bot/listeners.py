"""An executor for Bolt's listeners that can tell when they have all finished."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class ListenerPool(ThreadPoolExecutor):
    """Bolt's listener executor, with a way to wait until every listener started so far has finished.

    The console runs the same listeners as `serve`, ack first and work after (where `serve` hands the work to its
    worker process, bot/worker.py), then waits here so that a line's effects are all shown before the next prompt;
    tests wait here instead of sleeping.
    """

    def __init__(self, max_workers: int = 4) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="listener")
        self._running: set[Future[Any]] = set()
        self._idle = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        with self._idle:
            self._running.add(future)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future[Any]) -> None:
        with self._idle:
            self._running.discard(future)
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 120.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: not self._running, timeout)
