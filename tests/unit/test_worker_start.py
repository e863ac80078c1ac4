"""serve's front and its worker: the front waits for the worker to be ready, never for ever (a worker that dies first
is one line), and asks it about the database no more than it must."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.errors import ConfigError
from bot.health import DatabaseState
from bot.worker import Answer, Question, Worker


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


def test_a_worker_never_told_to_go_ends_on_its_own_when_serve_stops() -> None:
    """serve refused its settings before the worker had its own: the worker ends by itself, not killed, so that the
    semaphores it shares with the front are let go rather than left for the resource tracker to warn about on
    standard error, after serve's one line."""
    worker = Worker().start()
    process = worker._process
    assert process is not None
    worker.stop(timeout=60)
    assert process.exitcode == 0, f"the worker was ended with exit code {process.exitcode}"


class SlowLine:
    """The front's end of a worker's line, where the worker takes a while to answer each question."""

    def __init__(self) -> None:
        self.questions: list[Question] = []
        self._answer: Answer | None = None

    def send(self, question: Question) -> None:
        self.questions.append(question)
        time.sleep(0.2)  # the worker reading the database
        self._answer = Answer(question.number, DatabaseState(database="ok"))

    def poll(self, timeout: float = 0.0) -> bool:
        return self._answer is not None

    def recv(self) -> Answer:
        answer, self._answer = self._answer, None
        assert answer is not None
        return answer


class Running:
    pid = 1

    def is_alive(self) -> bool:
        return True


def test_many_asking_health_at_once_cost_the_worker_one_question() -> None:
    """Anyone can ask /healthz: forty at once must not hold the front's threads for forty answers in turn."""
    worker = Worker()
    line = SlowLine()
    worker._line = line  # type: ignore[assignment]
    worker._process = Running()  # type: ignore[assignment]
    worker._status.heartbeat.value = time.time()
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda _: worker.ask_database(), range(40)))
    assert all(answer is not None and answer.ok for answer in answers)
    assert len(line.questions) == 1
