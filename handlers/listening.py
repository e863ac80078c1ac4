"""Listeners that do slow work come in two parts, as Bolt's lazy listeners: a quick one that reads the payload and
answers Slack, and the work, which Bolt then runs on its listener executor (the console, the tests) or which
`serve` hands to its worker process (bot/worker.py).

Slack waits at most 3 seconds for the answer. The bot runs with `process_before_response`, so the answer leaves as
soon as the quick part returns: it never waits behind other requests' work, however much of it is queued.

The work reads the payload again with the same pure functions (that is cheap) and skips what the quick part
refused, whose person has been told already. Opening a form stays in the quick part: its trigger id lasts three
seconds, which queued work could outlast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from slack_bolt.util.utils import get_arg_names_of_callable

from handlers.errors import tell_about
from handlers.payloads import PayloadError

Listener = Callable[..., None]


def listen(on: Callable[..., Any], *, ack: Listener, work: Listener) -> None:
    """Register `ack` and `work` for one event: `on` is `app.action(...)`, `app.view(...)` or `app.command(...)`."""
    on(ack=ack, lazy=[reported(work)])


def reported(work: Listener) -> Listener:
    """Bolt only logs what a lazy listener raises; this tells the person as the error handler would."""
    needs = {"body", "client"} - set(get_arg_names_of_callable(work))
    assert not needs, f"{work.__name__} must take {sorted(needs)} for its errors to reach the person"

    @functools.wraps(work)
    def run(**kwargs: Any) -> None:
        try:
            work(**kwargs)
        except PayloadError:
            pass  # refused by the quick part, which said so
        except Exception as error:
            tell_about(error, body=kwargs["body"], client=kwargs["client"], respond=kwargs.get("respond"))

    return run
