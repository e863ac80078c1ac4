"""Submitting the request form: the same validation as the typed command, errors shown beside their field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from domain.catalog import RoleCatalog
from domain.commands import CommandError, GrantCommand, RemoveCommand, Target, build_grant, build_remove, parse_target
from handlers import ids
from handlers.blocks.forms import DEFAULT_METHOD, PERMANENT, FormState, block_id, error_block
from handlers.blocks.replies import notice
from handlers.blocks.text import escape
from handlers.commands.access import answer
from handlers.listening import listen
from handlers.messaging import tell_user
from handlers.payloads import chosen, chosen_many, form_field, form_values, typed
from services.context import RequestRefused, ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    def acknowledge(ack: Ack, view: dict[str, Any]) -> None:
        state = FormState.load(view)
        try:
            command_from_form(form_values(view), state, ctx.catalogs)
        except CommandError as error:
            ack(response_action="errors", errors={error_block(error.field, state): error.problem})
            return
        ack()

    def on_request_submitted(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        state = FormState.load(view)
        try:
            command = command_from_form(form_values(view), state, ctx.catalogs)
        except CommandError:
            return  # the form showed what to fix
        user_id = body["user"]["id"]
        try:
            reply = answer(ctx, command, user_id=user_id, text=command.canonical())
        except RequestRefused as refusal:
            reply = notice(f"⚠️ {escape(str(refusal))}")  # it may quote a name someone chose
        tell_user(client, user_id=user_id, channel=state.channel, message=reply)

    listen(app.view(ids.REQUEST_FORM), ctx, ack=acknowledge, work=on_request_submitted)


def command_from_form(
    values: Mapping[str, Mapping[str, Any]], state: FormState, catalogs: Mapping[str, RoleCatalog]
) -> GrantCommand | RemoveCommand:
    def field(block: str, action: str) -> dict[str, Any]:
        return form_field(values, block, action)

    def select(block: str, action: str) -> str | None:
        return chosen(field(block, action))

    verb = select(ids.FORM_VERB, ids.FORM_VERB) or state.verb
    platform = select(ids.FORM_PLATFORM, ids.FORM_PLATFORM) or state.platform
    target = _target(
        field(ids.FORM_TARGET_USER, ids.FORM_TARGET_USER), field(ids.FORM_TARGET_EMAIL, ids.FORM_TARGET_EMAIL), verb
    )
    reason = typed(field(ids.FORM_REASON, ids.FORM_REASON))
    ticket = typed(field(ids.FORM_TICKET, ids.FORM_TICKET))
    if verb == "remove":
        method = select(ids.FORM_METHOD, ids.FORM_METHOD)
        return build_remove(
            target=target,
            platform=platform,
            method=None if method in (None, DEFAULT_METHOD) else method,
            reason=reason,
            ticket=ticket,
            catalogs=catalogs,
        )
    if verb not in ("add", "update"):
        raise CommandError(f"Unknown action {verb!r}; pick add, change or remove.", None, "verb")
    role_choice = select(block_id(ids.FORM_ROLE, platform), ids.FORM_ROLE)
    if role_choice is None:
        raise CommandError("Pick a role.", verb, "role")
    kind, _, role = role_choice.partition(":")
    scopes = chosen_many(field(block_id(ids.FORM_SCOPES, platform), ids.FORM_SCOPES))
    if kind == "account" and scopes:
        raise CommandError(
            "An account role covers the whole account; clear the scopes, or pick a role on them.", verb, "scopes"
        )
    if kind == "scope" and not scopes:
        raise CommandError(f"Pick the scopes the {role} role is for.", verb, "scopes")
    duration = select(ids.FORM_DURATION, ids.FORM_DURATION)
    return build_grant(
        verb,  # type: ignore[arg-type]
        target=target,
        platform=platform,
        role=role,
        scopes=scopes,
        duration=None if duration in (None, PERMANENT) else duration,
        until=None,
        reason=reason,
        ticket=ticket,
        catalogs=catalogs,
    )


def _target(user_field: dict[str, Any], email_field: dict[str, Any], verb: str) -> Target:
    user = user_field.get("selected_user")
    if isinstance(user, str) and user:
        return parse_target(f"<@{user}>", verb)
    email = (typed(email_field) or "").strip()
    if not email:
        raise CommandError("Pick a person, or type their email address.", verb, "target")
    return parse_target(email, verb)
