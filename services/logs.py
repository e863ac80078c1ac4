"""Which access request the current work is about, for every log line written meanwhile (bot/logs.py prints it)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Concatenate, ParamSpec, TypeVar

C = TypeVar("C")
P = ParamSpec("P")
R = TypeVar("R")
REQUEST_ID: ContextVar[int | None] = ContextVar("accessbot_request_id", default=None)


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
