"""Which instance is working and which access request the work is about, for every log line written meanwhile
(bot/logs.py prints it) and every claim taken."""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Concatenate, ParamSpec, TypeVar

C = TypeVar("C")
P = ParamSpec("P")
R = TypeVar("R")
REQUEST_ID: ContextVar[int | None] = ContextVar("accessbot_request_id", default=None)
INSTANCE_ENV = "ACCESSBOT_INSTANCE"


def worker_name() -> str:
    """This instance's name in claims, log lines and health: host:pid, unless ACCESSBOT_INSTANCE names it (serve's
    worker process takes its front's name, so that the two are one instance)."""
    return os.environ.get(INSTANCE_ENV) or f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def about_request(request_id: int | None) -> Iterator[None]:
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def for_request(function: Callable[Concatenate[C, int, P], R]) -> Callable[Concatenate[C, int, P], R]:
    """For service functions called as `f(ctx, request_id, ...)`: their log lines name the request."""

    @functools.wraps(function)
    def wrapper(ctx: C, request_id: int, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with about_request(request_id):
            return function(ctx, request_id, *args, **kwargs)

    return wrapper
