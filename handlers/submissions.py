"""What a submitted form says, read from the payload and the configuration alone: the front reads it to answer
Slack (errors beside their field), the work reads it again to act on it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.catalog import RoleCatalog
from domain.commands import CommandError, GrantCommand, RemoveCommand, Target, build_grant, build_remove, parse_target
from domain.durations import DurationError, parse_duration
from handlers import ids
from handlers.blocks.forms import DEFAULT_METHOD, PERMANENT, FormState, block_id
from handlers.payloads import chosen, chosen_many, form_field, form_values, metadata, number, typed


def denial(view: dict[str, Any]) -> tuple[int, str | None]:
    """The request the form is for, and the reason given (optional)."""
    request_id = number(view.get("private_metadata"), "form")
    reason = typed(form_field(form_values(view), ids.DENY_REASON_BLOCK, ids.DENY_REASON_INPUT))
    return request_id, (reason or "").strip() or None


def task_report(view: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
    """The task, where its message is (and whether it is skipped), and the evidence or reason given."""
    where = metadata(view)
    task_id = number(where.get("task"), "form")
    evidence = (typed(form_field(form_values(view), ids.TASK_EVIDENCE, ids.TASK_EVIDENCE)) or "").strip()
    return task_id, where, evidence or None


class Extension(BaseModel):
    model_config = ConfigDict(frozen=True)

    grant_id: int
    span_text: str
    span: timedelta | None = None
    reason: str
    # Field -> problem, shown beside the field; empty when the form is fine.
    errors: dict[str, str] = {}


def extension(view: dict[str, Any]) -> Extension:
    values = form_values(view)
    grant_id = number(view.get("private_metadata"), "form")
    span_text = chosen(form_field(values, ids.EXTEND_SPAN, ids.EXTEND_SPAN)) or ""
    reason = " ".join((typed(form_field(values, ids.EXTEND_REASON, ids.EXTEND_REASON)) or "").split())
    try:
        span = parse_duration(span_text)
    except DurationError as error:
        return Extension(grant_id=grant_id, span_text=span_text, reason=reason, errors={ids.EXTEND_SPAN: str(error)})
    if not reason:
        errors = {ids.EXTEND_REASON: "Say why more time is needed."}
        return Extension(grant_id=grant_id, span_text=span_text, span=span, reason=reason, errors=errors)
    return Extension(grant_id=grant_id, span_text=span_text, span=span, reason=reason)


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
