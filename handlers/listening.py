"""Listeners that do slow work come in two parts, as Bolt's lazy listeners: a quick one that reads the payload and
answers Slack, and the work, which Bolt then runs on its listener executor (the console, the tests) or which
`serve` hands to its worker process (bot/worker.py).

Slack waits at most 3 seconds for the answer. The bot runs with `process_before_response`, so the answer leaves as
soon as the quick part returns: it never waits behind other requests' work, however much of it is queued.

The work reads the payload again with the same pure functions (that is cheap) and skips what the quick part
refused, whose person has been told already. Opening a form stays in the quick part: its trigger id lasts three
seconds, which queued work could outlast.

The work runs once per delivery (handlers/replays.py): a replayed request or Slack's retry of an event is answered
again by the quick part, which changes nothing, and its work is skipped. The check is the work's, so Slack's
answer never waits on the database for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from slack_bolt.kwargs_injection.args import Args
from slack_bolt.util.utils import get_arg_names_of_callable

from handlers.errors import tell_about
from handlers.payloads import PayloadError
from handlers.replays import first_run
from services.context import ServiceContext

Listener = Callable[..., None]


def listen(on: Callable[..., Any], ctx: ServiceContext, *, ack: Listener, work: Listener) -> None:
    """Register `ack` and `work` for one event: `on` is `app.action(...)`, `app.view(...)` or `app.command(...)`."""
    on(ack=ack, lazy=[reported(work, ctx)])


def reported(work: Listener, ctx: ServiceContext) -> Listener:
    """The work, run once per delivery; and since Bolt only logs what a lazy listener raises, this tells the person
    as the error handler would."""
    names = get_arg_names_of_callable(work)
    needs = {"body", "client"} - set(names)
    assert not needs, f"{work.__name__} must take {sorted(needs)} for its errors to reach the person"

    @functools.wraps(work)  # the name is how serve's worker finds the work to run (bot/handoff.py)
    def run(args: Args) -> None:
        if not first_run(ctx, args.request, work.__name__):
            return
        kwargs = {name: getattr(args, name) for name in names}
        try:
            work(**kwargs)
        except PayloadError:
            pass  # refused by the quick part, which said so
        except Exception as error:
            tell_about(error, body=kwargs["body"], client=kwargs["client"], respond=kwargs.get("respond"))

    # Bolt passes a listener what its signature names, after unwrapping: this one takes `args`, which has them all.
    del run.__wrapped__
    return run
