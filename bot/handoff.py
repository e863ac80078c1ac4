"""How `serve`'s front gives the work behind its answers to its worker process (bot/worker.py).

This is Bolt's lazy-listener hand-off, as in its AWS Lambda adapter. The front's lazy listener runner sends the
request as Slack sent it, and names the lazy function that is due. The worker dispatches that request to its own
Bolt app, marked with the headers that make Bolt run that one lazy function and nothing else.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt import App
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.request import BoltRequest
from slack_bolt.util.utils import get_name_for_callable

# Bolt's ThreadListenerRunner method that copies the request and starts a lazy listener (see hand_off_work).
COPYING_STEP = "_start_lazy_function"
LAZY_ONLY = "x-slack-bolt-lazy-only"
LAZY_FUNCTION = "x-slack-bolt-lazy-function-name"


@dataclass(frozen=True)
class Work:
    """A request the front has answered, and the lazy function the worker is to run for it."""

    body: str | dict[str, Any]  # the raw body over HTTP; the parsed one in Socket Mode
    headers: dict[str, list[str]]
    mode: str
    function: str

    @classmethod
    def of(cls, request: BoltRequest, function: str) -> Work:
        return cls(
            # In Socket Mode the body is a dict, which the queue pickles later, on its own thread: take a copy now.
            body=request.raw_body if request.mode == "http" else copy.deepcopy(request.body),
            headers={
                name: list(values) for name, values in request.headers.items() if name not in (LAZY_ONLY, LAZY_FUNCTION)
            },
            mode=request.mode,
            function=function,
        )

    def request(self) -> BoltRequest:
        """The request as Bolt dispatches one lazy function alone (the headers its Lambda adapter sets)."""
        headers: dict[str, str | Sequence[str]] = dict(self.headers)
        headers[LAZY_ONLY] = ["1"]
        headers[LAZY_FUNCTION] = [self.function]
        return BoltRequest(body=self.body, headers=headers, mode=self.mode)


class Feeds(Protocol):
    def hand_off(self, work: Work) -> None: ...


class HandOff(LazyListenerRunner):
    """The front's lazy listener runner: queue the work for the worker instead of running it here."""

    def __init__(self, worker: Feeds) -> None:
        self.logger = logging.getLogger("accessbot.handoff")
        self._worker = worker

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        self._worker.hand_off(Work.of(request, get_name_for_callable(function)))


def hand_off_work(app: App, worker: Feeds) -> None:
    """Make `app` queue the work of its lazy listeners for `worker` rather than run it.

    Bolt deep-copies a request before it gives it to a lazy listener runner, so that the listener can run on another
    thread while the request is answered. The hand-off needs no copy (it takes what it sends at once, on the
    request's thread), and the copy took more than half of the front's time per request (0.17 of 0.31 ms; with 4
    clients, benchmarks/ack_latency.py went from 1.5-1.7 to 1.2-1.5 times a bare Bolt app's p99). So the runner's
    step that copies is replaced; should a Bolt release rename it, the request is copied again and nothing else
    changes (tests/unit/test_handoff.py says so).
    """
    runner = app.listener_runner
    runner.lazy_listener_runner = HandOff(worker)
    if hasattr(runner, COPYING_STEP):
        setattr(runner, COPYING_STEP, lambda function, request: runner.lazy_listener_runner.start(function, request))
