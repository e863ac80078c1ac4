"""Everything Slack can send the bot, what answers it at once, and the name of the work behind the answer.

An answer is made from the payload and the configuration alone: it parses, refuses what it cannot read (in the
answer itself), opens a form, and acknowledges. It never touches the database, so `serve`'s front, which only
verifies, answers and hands the work over (bot/front.py), loads none of it. The work runs where the database is:
serve's worker, or the one process of the console and the tests (handlers/listening.py binds each name to it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from slack_bolt import Ack, App
from slack_sdk import WebClient

from domain.catalog import RoleCatalog
from domain.commands import CommandError, GrantCommand, HelpCommand, OpenFormCommand, RemoveCommand, parse_command
from handlers import errors, ids
from handlers.blocks import forms
from handlers.blocks.help import command_error, help_message
from handlers.payloads import PayloadError, chosen, form_values, number
from handlers.submissions import command_from_form, denial, extension, task_report

Listener = Callable[..., None]
COMMAND = "/access"


@dataclass(frozen=True)
class Route:
    """One kind of request: where Slack sends it, the quick part that answers it, and the work behind the answer
    (None where the answer is all there is)."""

    kind: Literal["command", "action", "view", "event"]
    matcher: str | re.Pattern[str]
    answer: Listener
    work: str | None = None

    def listen(self, app: App, work: Listener | None) -> None:
        on = getattr(app, self.kind)(self.matcher)
        if work is None:
            on(self.answer)
        else:
            on(ack=self.answer, lazy=[work])


def routes(catalogs: Mapping[str, RoleCatalog]) -> list[Route]:
    def any_of(*names: str) -> re.Pattern[str]:
        return re.compile(f"^({'|'.join(names)})$")

    return [
        Route("command", COMMAND, _access(catalogs), "access_command"),
        Route("action", ids.APPROVE, acknowledge_click, "on_approve"),
        Route("action", ids.DENY, _opening(forms.DENY_TITLE), "open_deny_form"),
        Route("action", ids.RETRY, acknowledge_click, "on_retry"),
        Route("action", any_of(*ids.FORM_REDRAW_ACTIONS), _redraw(catalogs)),
        Route("action", ids.EXTEND, _opening(forms.EXTEND_TITLE), "open_extend_form"),
        Route("action", any_of(ids.KEEP, ids.REVOKE_NOW), acknowledge_click, "on_reminder_answer"),
        Route("action", any_of(ids.TASK_DONE, ids.TASK_SKIP), _opening(forms.TASK_TITLE), "open_task_form"),
        Route("action", ids.TASK_RESENT, acknowledge_click, "on_resent"),
        Route("action", any_of(ids.REVIEW_KEEP, ids.REVIEW_REMOVE), acknowledge_click, "on_review_answer"),
        Route("view", ids.REQUEST_FORM, _request_form(catalogs), "on_request_submitted"),
        Route("view", ids.DENY_FORM, _read_then_ack(denial), "on_deny_submitted"),
        Route("view", ids.EXTEND_FORM, _extend_form, "on_extend_submitted"),
        Route("view", ids.TASK_FORM, _read_then_ack(task_report), "on_task_submitted"),
        Route("event", "app_home_opened", _acknowledge, "on_home_opened"),
    ]


def register_answers(app: App, catalogs: Mapping[str, RoleCatalog]) -> None:
    """serve's front: every quick part, each with its work named for the worker (bot/handoff.py), never run here."""
    for route in routes(catalogs):
        route.listen(app, None if route.work is None else _handed_over(route.work))
    errors.register(app)


def _handed_over(name: str) -> Listener:
    def work() -> None:
        raise RuntimeError(f"{name} runs in the worker: the front hands it over (bot/handoff.py)")

    work.__name__ = name  # how the hand-off names the work, and the worker finds it
    return work


def _acknowledge(ack: Ack) -> None:
    ack()


def acknowledge_click(ack: Ack, action: dict[str, Any]) -> None:
    """A button that does work: check it carries an id the bot can read, and acknowledge."""
    number(action.get("value"), "button")
    ack()


def _opening(title: str) -> Listener:
    """A button that opens a form built from the database: a view that says it is being prepared opens at once,
    while the click's trigger id is fresh, and the work fills it in (handlers/blocks/forms.py: loading)."""

    def open_loading(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        number(action.get("value"), "button")
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=forms.loading(title, body))

    return open_loading


def _access(catalogs: Mapping[str, RoleCatalog]) -> Listener:
    """`/access`: bad input and help are answered in the acknowledgement, `/access` alone opens the form."""

    def acknowledge_command(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        try:
            parsed = parse_command(command.get("text") or "", catalogs)
        except CommandError as error:
            ack(**command_error(error))
            return
        if isinstance(parsed, HelpCommand):
            ack(**help_message(catalogs, parsed.topic))
        elif isinstance(parsed, OpenFormCommand):
            ack()
            state = forms.FormState(platform=next(iter(catalogs)), channel=command.get("channel_id"))
            client.views_open(trigger_id=command["trigger_id"], view=forms.request_form(catalogs, state))
        elif isinstance(parsed, GrantCommand | RemoveCommand):
            ack(text="⏳ Checking current access and preparing the approval card…")
        else:
            ack()

    return acknowledge_command


def _redraw(catalogs: Mapping[str, RoleCatalog]) -> Listener:
    """The request form, drawn again when its action or platform changes: role and scope choices depend on both."""

    def on_form_change(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        # Read before acknowledging, so a form we cannot read is refused in the answer itself.
        view = body.get("view") or {}
        state = forms.FormState.load(view)
        choice = chosen(action)
        if choice is None:
            raise PayloadError("form")
        ack()
        if action["action_id"] == ids.FORM_VERB:
            state = state.model_copy(update={"verb": choice})
        else:
            state = state.model_copy(update={"platform": choice})
        if state.platform not in catalogs and state.verb != "remove":
            state = state.model_copy(update={"platform": next(iter(catalogs))})
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=forms.request_form(catalogs, state))

    return on_form_change


def _request_form(catalogs: Mapping[str, RoleCatalog]) -> Listener:
    """The same validation as the typed command, each error shown beside its field."""

    def acknowledge_form(ack: Ack, view: dict[str, Any]) -> None:
        state = forms.FormState.load(view)
        try:
            command_from_form(form_values(view), state, catalogs)
        except CommandError as error:
            ack(response_action="errors", errors={forms.error_block(error.field, state): error.problem})
            return
        ack()

    return acknowledge_form


def _extend_form(ack: Ack, view: dict[str, Any]) -> None:
    asked = extension(view)
    if asked.errors:
        ack(response_action="errors", errors=asked.errors)
    else:
        ack()


def _read_then_ack(read: Callable[[dict[str, Any]], object]) -> Listener:
    """A form whose fields are all optional or free text: refused only when the payload cannot be read."""

    def acknowledge_form(ack: Ack, view: dict[str, Any]) -> None:
        read(view)
        ack()

    return acknowledge_form
