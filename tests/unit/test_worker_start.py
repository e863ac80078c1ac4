"""serve's front waits for its worker to be ready, and never for ever: a worker that dies first is one line."""

from __future__ import annotations

import threading

from bot.errors import ConfigError
from bot.worker import Worker


def test_a_worker_that_dies_before_it_is_ready_ends_the_wait_with_one_line() -> None:
    worker = Worker().start()
    try:
        process = worker._process
        assert process is not None
        process.kill()
        raised: list[BaseException] = []

        def wait_ready() -> None:
            try:
                worker.ready()
            except BaseException as error:
                raised.append(error)

        waiting = threading.Thread(target=wait_ready, daemon=True)
        waiting.start()
        waiting.join(timeout=30)
        assert not waiting.is_alive(), "ready() kept waiting for a worker that had ended"
        assert len(raised) == 1 and isinstance(raised[0], ConfigError)
        assert "the worker process ended while starting (exit code -9)" in str(raised[0])
    finally:
        worker.stop(timeout=5)
