"""Modals: the request form (`/access` alone), the deny form, and the view a form opens as while it is prepared."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from domain.catalog import NO_ACCESS, RoleCatalog
from domain.commands import ALL_PLATFORMS
from handlers import ids
from handlers.blocks.text import context, escape, plain, section
from handlers.payloads import PayloadError, metadata

VERB_LABELS = {"add": "Add access", "update": "Change access", "remove": "Remove access"}
DURATIONS = ("1h", "4h", "8h", "1d", "3d", "1w", "2w", "30d")
PERMANENT = "permanent"
DEFAULT_METHOD = "default"
# Slack keeps what was typed into an input across views.update when its block_id stays the same. The role and
# scope blocks carry the platform in their id, so switching platform clears choices the new one does not offer.
_PER_PLATFORM = (ids.FORM_ROLE, ids.FORM_SCOPES)


def block_id(field: str, platform: str) -> str:
    return f"{field}:{platform}" if field in _PER_PLATFORM else field


def error_block(field: str | None, state: FormState) -> str:
    """The block a CommandError about `field` is shown under."""
    by_field = {
        "target": ids.FORM_TARGET_USER,
        "platform": ids.FORM_PLATFORM,
        "role": ids.FORM_ROLE,
        "scopes": ids.FORM_SCOPES,
        "duration": ids.FORM_DURATION,
        "method": ids.FORM_METHOD,
        "ticket": ids.FORM_TICKET,
    }
    return block_id(by_field.get(field or "", ids.FORM_REASON), state.platform)


class FormState(BaseModel):
    """What the form remembers between redraws, kept in the view's private_metadata."""

    verb: str = "add"
    platform: str
    channel: str | None = None  # where /access was typed, for the confirmation

    def dump(self) -> str:
        return self.model_dump_json()

    @classmethod
    def load(cls, view: Mapping[str, Any]) -> FormState:
        try:
            return cls.model_validate(metadata(view))
        except ValidationError:
            raise PayloadError("form") from None


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def _select(action_id: str, options: list[dict[str, Any]], initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "options": options}
    chosen = next((option for option in options if option["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
        **extra,
    }


def request_form(catalogs: Mapping[str, RoleCatalog], state: FormState) -> dict[str, Any]:
    platforms = [_option(name, name) for name in sorted(catalogs)]
    if state.verb == "remove":
        platforms.append(_option("All platforms (offboard)", ALL_PLATFORMS))
    blocks: list[dict[str, Any]] = [
        _input(
            ids.FORM_VERB,
            "What do you need?",
            _select(ids.FORM_VERB, [_option(label, verb) for verb, label in VERB_LABELS.items()], state.verb),
            dispatch_action=True,
        ),
        _input(
            ids.FORM_TARGET_USER,
            "Person",
            {"type": "users_select", "action_id": ids.FORM_TARGET_USER},
            optional=True,
            hint=plain("Pick someone in Slack, or type an email below for someone outside it."),
        ),
        _input(
            ids.FORM_TARGET_EMAIL,
            "…or their email",
            {"type": "plain_text_input", "action_id": ids.FORM_TARGET_EMAIL, "placeholder": plain("ana@agency.com")},
            optional=True,
        ),
        _input(
            ids.FORM_PLATFORM,
            "Platform",
            _select(ids.FORM_PLATFORM, platforms, state.platform),
            dispatch_action=True,
        ),
    ]
    catalog = catalogs.get(state.platform)
    if state.verb == "remove":
        blocks.append(
            _input(
                ids.FORM_METHOD,
                "Method",
                _select(
                    ids.FORM_METHOD,
                    [
                        _option("Platform default", DEFAULT_METHOD),
                        _option("Delete the member (restoring needs a new invite)", "delete"),
                        _option("Revoke: lowest role, no projects or sites, keep the account", "revoke"),
                    ],
                    DEFAULT_METHOD,
                ),
            )
        )
    elif catalog is not None:
        blocks.extend(_grant_fields(catalog, state))
    blocks.append(
        _input(
            ids.FORM_REASON,
            "Reason",
            {"type": "plain_text_input", "action_id": ids.FORM_REASON, "multiline": True, "max_length": 500},
        )
    )
    blocks.append(
        _input(
            ids.FORM_TICKET,
            "Ticket",
            {"type": "plain_text_input", "action_id": ids.FORM_TICKET, "placeholder": plain("OPS-1234")},
            optional=True,
        )
    )
    return {
        "type": "modal",
        "callback_id": ids.REQUEST_FORM,
        "private_metadata": state.dump(),
        "title": plain("Request access"),
        "submit": plain("Send for approval"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }


def _grant_fields(catalog: RoleCatalog, state: FormState) -> list[dict[str, Any]]:
    scope_roles: list[str] = []
    for scope in catalog.scopes:
        scope_roles.extend(role for role in scope.roles if role not in scope_roles)
    groups = [
        {
            "label": plain("Account role"),
            "options": [_option(role, f"account:{role}") for role in catalog.account_roles],
        }
    ]
    on_scopes = [_option(f"{role} on the scopes below", f"scope:{role}") for role in scope_roles]
    if state.verb == "update":
        on_scopes.append(_option("No access to the scopes below", f"scope:{NO_ACCESS}"))
    if on_scopes:
        groups.append({"label": plain("Role on projects, modules, sites"), "options": on_scopes})
    fields = [
        _input(
            block_id(ids.FORM_ROLE, state.platform),
            "Role",
            {"type": "static_select", "action_id": ids.FORM_ROLE, "option_groups": groups},
        )
    ]
    if catalog.scopes:
        fields.append(
            _input(
                block_id(ids.FORM_SCOPES, state.platform),
                "Scopes",
                {
                    "type": "multi_static_select",
                    "action_id": ids.FORM_SCOPES,
                    "options": [_option(f"{scope.name} ({scope.kind})", scope.name) for scope in catalog.scopes],
                },
                optional=True,
                hint=plain("Only for a role on projects, modules or sites."),
            )
        )
    fields.append(
        _input(
            ids.FORM_DURATION,
            "Duration",
            _select(
                ids.FORM_DURATION,
                [_option("Permanent", PERMANENT), *(_option(f"For {span}", span) for span in DURATIONS)],
                PERMANENT,
            ),
        )
    )
    return fields


def deny_form(request_id: int, target_email: str, *, withdraw: bool = False) -> dict[str, Any]:
    """Deny, or withdraw when the requester opens it on their own request."""
    verb = "Withdraw" if withdraw else "Deny"
    return {
        "type": "modal",
        "callback_id": ids.DENY_FORM,
        "private_metadata": str(request_id),
        "title": plain(f"{verb} request"),
        "submit": plain(verb),
        "close": plain("Cancel"),
        "blocks": [
            section(f"{verb} request #{request_id} for *{escape(target_email)}*?"),
            _input(
                ids.DENY_REASON_BLOCK,
                "Reason, shown to the requester",
                {"type": "plain_text_input", "action_id": ids.DENY_REASON_INPUT, "multiline": True, "max_length": 500},
                optional=True,
            ),
            context("The requester is told by DM; the card and the audit trail keep the reason."),
        ],
    }


# The titles of the views buttons open while their form is prepared, kept when they show why there is no form.
DENY_TITLE, EXTEND_TITLE, TASK_TITLE = "Deny request", "Extend access", "Mark as done"


def loading_id(body: Mapping[str, Any]) -> str:
    """The external id of the view a click opens at once (see `loading`): the same in the front and the worker,
    since both read it from the click's trigger id, which Slack makes unique."""
    return f"loading:{body.get('trigger_id')}"


def loading(title: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """What a button that opens a form shows at once, while the worker reads what the form needs and fills it in
    (views.update by `loading_id`). A trigger id lasts 3 seconds, which queued work could outlast; this view uses it
    at once, and nothing waits for the database to answer Slack."""
    return {
        "type": "modal",
        "callback_id": ids.LOADING,
        "external_id": loading_id(body),
        "title": plain(title),
        "close": plain("Cancel"),
        "blocks": [section("⏳ Checking…")],
    }


def form_notice(title: str, text: str) -> dict[str, Any]:
    """What a loading view becomes when there is no form to fill in (the step is done, the request decided)."""
    return {
        "type": "modal",
        "callback_id": ids.LOADING,
        "title": plain(title),
        "close": plain("Close"),
        "blocks": [section(text)],
    }
