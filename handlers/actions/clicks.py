"""What every card button's listener does around its service call."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from handlers.blocks.replies import decision_notice
from handlers.messaging import answer_person
from handlers.payloads import number
from services.context import ServiceContext
from services.decisions import DecisionResult
from services.ports import Person


def acknowledge_click(ack: Ack, action: dict[str, Any]) -> None:
    """The quick part of a button that does work: check it carries an id the bot can read, and acknowledge."""
    number(action.get("value"), "button")
    ack()


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
