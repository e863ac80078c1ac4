"""What every card button's listener does around its service call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers.blocks.forms import form_notice, loading_id
from handlers.blocks.replies import decision_notice
from handlers.messaging import answer_person
from handlers.payloads import PayloadError, number
from services.context import ServiceContext
from services.decisions import DecisionResult
from services.ports import Person


def clicked(ctx: ServiceContext, body: dict[str, Any], action: dict[str, Any]) -> tuple[int, Person]:
    """The id a button carries (a request, an elevation, a task, a review row) and who pressed it."""
    return number(action.get("value"), "button"), ctx.directory.person(body["user"]["id"])


def tell_clicker(
    respond: Respond | None, client: WebClient, body: dict[str, Any], result: DecisionResult, request_id: int
) -> None:
    """A note to the person who clicked, unless the card itself now shows what happened: ephemeral under the card,
    a DM after a click in the App Home."""
    if (notice := decision_notice(result, request_id)) is not None:
        answer_person(client, respond, body, notice)


def fill_in(client: WebClient, body: dict[str, Any], title: str, draw: Callable[[], dict[str, Any]]) -> None:
    """Turn the view a click opened while it was prepared (handlers/answers.py) into what `draw` makes: the form, or
    why there is none. If drawing fails, the view says so rather than stay as it was, and the error goes on to be
    reported to the person (handlers/listening.py)."""
    try:
        view = draw()
    except PayloadError:
        raise  # the answer refused the click and opened nothing; the person has been told
    except Exception:
        text = "⚠️ This could not be prepared; the bot has sent you a message saying why."
        client.views_update(external_id=loading_id(body), view=form_notice(title, text))
        raise
    client.views_update(external_id=loading_id(body), view=view)
