"""Listeners that do slow work come in two parts, as Bolt's lazy listeners: a quick one that reads the payload and
answers Slack (handlers/answers.py), and the work, which Bolt then runs on its listener executor (the console, the
tests) or which `serve` hands to its worker process (bot/worker.py). This module binds the work to the answers.

Slack waits at most 3 seconds for the answer. The bot runs with `process_before_response`, so the answer leaves as
soon as the quick part returns: it never waits behind other requests' work, however much of it is queued.

The work reads the payload again with the same pure functions (that is cheap) and skips what the quick part
refused, whose person has been told already. Opening a form stays in the quick part: its trigger id lasts three
seconds, which queued work could outlast. A form built from the database opens as a view that says it is being
prepared, which the work fills in.

The work runs once per delivery (handlers/replays.py): a replayed request or Slack's retry of an event is answered
again by the quick part, which changes nothing, and its work is skipped. The check is the work's, so Slack's
answer never waits on the database for it.
"""

from __future__ import annotations

import functools

from slack_bolt import App
from slack_bolt.kwargs_injection.args import Args
from slack_bolt.util.utils import get_arg_names_of_callable

from handlers import actions, commands, errors, home, views
from handlers.answers import Listener, routes
from handlers.errors import tell_about
from handlers.outbox import Outbox
from handlers.payloads import PayloadError
from handlers.replays import first_run
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext, outbox: Outbox) -> None:
    """Every answer, with its work: the console, the tests, and serve's worker (which runs only the work)."""
    works = {work.__name__: work for work in (*commands.works(ctx), *actions.works(ctx), *views.works(ctx))}
    works.update({work.__name__: work for work in home.works(ctx, outbox)})
    for route in routes(ctx.catalogs):
        route.listen(app, None if route.work is None else reported(works.pop(route.work), ctx))
    assert not works, f"no route names the work {sorted(works)}"
    errors.register(app)


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
