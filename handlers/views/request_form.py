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
from handlers.commands.access import answer
from handlers.messaging import tell_user
from services.context import RequestRefused, ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    @app.view(ids.REQUEST_FORM)
    def on_request_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        state = FormState.load(view["private_metadata"])
        try:
            command = command_from_form(view["state"]["values"], state, ctx.catalogs)
        except CommandError as error:
            ack(response_action="errors", errors={error_block(error.field, state): error.problem})
            return
        ack()
        user_id = body["user"]["id"]
        try:
            reply = answer(ctx, command, user_id=user_id, text=command.canonical())
        except RequestRefused as refusal:
            reply = notice(f"⚠️ {refusal}")
        tell_user(client, user_id=user_id, channel=state.channel, message=reply)


def command_from_form(
    values: Mapping[str, Mapping[str, Any]], state: FormState, catalogs: Mapping[str, RoleCatalog]
) -> GrantCommand | RemoveCommand:
    def field(block: str, action: str) -> dict[str, Any]:
        return dict(values.get(block, {}).get(action) or {})

    def chosen(block: str, action: str) -> str | None:
        option = field(block, action).get("selected_option")
        return option["value"] if option else None

    verb = chosen(ids.FORM_VERB, ids.FORM_VERB) or state.verb
    platform = chosen(ids.FORM_PLATFORM, ids.FORM_PLATFORM) or state.platform
    target = _target(
        field(ids.FORM_TARGET_USER, ids.FORM_TARGET_USER), field(ids.FORM_TARGET_EMAIL, ids.FORM_TARGET_EMAIL), verb
    )
    reason = field(ids.FORM_REASON, ids.FORM_REASON).get("value")
    ticket = field(ids.FORM_TICKET, ids.FORM_TICKET).get("value")
    if verb == "remove":
        method = chosen(ids.FORM_METHOD, ids.FORM_METHOD)
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
    role_choice = chosen(block_id(ids.FORM_ROLE, platform), ids.FORM_ROLE)
    if role_choice is None:
        raise CommandError("Pick a role.", verb, "role")
    kind, _, role = role_choice.partition(":")
    scope_options = field(block_id(ids.FORM_SCOPES, platform), ids.FORM_SCOPES).get("selected_options") or []
    scopes = [option["value"] for option in scope_options]
    if kind == "account" and scopes:
        raise CommandError(
            "An account role covers the whole account; clear the scopes, or pick a role on them.", verb, "scopes"
        )
    if kind == "scope" and not scopes:
        raise CommandError(f"Pick the scopes the {role} role is for.", verb, "scopes")
    duration = chosen(ids.FORM_DURATION, ids.FORM_DURATION)
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
    if user_field.get("selected_user"):
        return Target(slack_id=user_field["selected_user"])
    email = (email_field.get("value") or "").strip()
    if not email:
        raise CommandError("Pick a person, or type their email address.", verb, "target")
    return parse_target(email, verb)
