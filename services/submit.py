"""Turning a parsed command into a stored request and an approval card."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from domain.access import AccessChange, AccessState, RemovalMethod, diff
from domain.commands import ALL_PLATFORMS, GrantCommand, RemoveCommand
from domain.durations import zone_named
from domain.lifecycle import ChangeStatus, RequestStatus
from domain.offboarding import is_security_reason
from domain.policy import (
    Requirements,
    duration_verdict,
    evaluate,
    guard_rails,
    needs_admin_count,
    pending_deadlines,
    request_refusals,
)
from platforms.base import PlatformError
from services.approvers import count_org_admins, grant_items
from services.context import RequestRefused, ServiceContext, logger
from services.logs import about_request
from services.ports import MessageRef, Person
from services.views import RequestView, desired_state
from storage.audit import AuditKind, record
from storage.db import session_scope
from storage.models import AccessRequest, PlatformChange
from storage.requests import add_request, changes_of, pending_for, set_card


def submit(
    ctx: ServiceContext,
    command: GrantCommand | RemoveCommand,
    *,
    requester: Person,
    target_email: str,
    target_slack_id: str | None = None,
    text: str = "",
) -> RequestView:
    """Store a request and post its approval card. Raises RequestRefused when it cannot be made as asked."""
    request, changes = prepare(
        ctx, command, requester=requester, target_email=target_email, target_slack_id=target_slack_id, text=text
    )
    return store_and_announce(
        ctx, request, changes, actor=requester.slack_id, detail={"command": text, "ticket": command.ticket}
    )


def prepare(
    ctx: ServiceContext,
    command: GrantCommand | RemoveCommand,
    *,
    requester: Person,
    target_email: str,
    target_slack_id: str | None = None,
    text: str = "",
) -> tuple[AccessRequest, list[PlatformChange]]:
    """Check a request against the platforms, the rules and the guard rails, and build its rows (not stored)."""
    now = ctx.clock.now()
    target_email = target_email.lower()
    until_at = _check_duration(ctx, command, requester, now)
    changes = _plan_changes(ctx, command, target_email, now)
    temporary = isinstance(command, GrantCommand) and command.is_temporary
    requirements = requirements_for(ctx, command.verb, changes, temporary=temporary)
    span = (command.duration or (until_at - now if until_at else None)) if isinstance(command, GrantCommand) else None
    refusals = request_refusals(requirements, ticket=command.ticket, duration=span if temporary else None)
    if refusals:
        raise RequestRefused(" ".join(refusals))
    remind_at, expires_at = pending_deadlines(ctx.policy, now, verb=command.verb)
    request = AccessRequest(
        verb=command.verb,
        status=RequestStatus.PENDING.value,
        requester_id=requester.slack_id,
        requester_email=requester.email,
        target_email=target_email,
        target_slack_id=target_slack_id,
        reason=command.reason,
        ticket=command.ticket,
        command_text=text,
        duration_seconds=int(command.duration.total_seconds())
        if isinstance(command, GrantCommand) and command.duration
        else None,
        until_at=until_at,
        created_at=now,
        updated_at=now,
        requirements=requirements.model_dump(mode="json"),
        break_glass=command.verb == "break-glass",
        security=isinstance(command, RemoveCommand)
        and (command.now or is_security_reason(command.reason, ctx.removal_settings.security_words)),
        remind_at=remind_at,
        expires_at=expires_at,
    )
    if (waiting := _same_request_waiting(ctx, request, changes)) is not None:
        raise RequestRefused(
            f"The same request is already waiting for approval as #{waiting}: nothing new was sent. "
            f"`/access status {waiting}` shows where it stands."
        )
    return request, changes


def _same_request_waiting(ctx: ServiceContext, request: AccessRequest, changes: list[PlatformChange]) -> int | None:
    """The pending request that asks for exactly this (same person, changes and time span), if there is one."""

    def asked(rows: list[PlatformChange]) -> list[tuple[str, str, str, str | None]]:
        return sorted((row.platform, row.action, json.dumps(row.grant, sort_keys=True), row.method) for row in rows)

    wanted = (asked(changes), request.duration_seconds, request.until_at)
    with Session(ctx.engine) as session:
        for pending in pending_for(session=session, target_email=request.target_email, verb=request.verb):
            assert pending.id is not None
            theirs = (
                asked(changes_of(session=session, request_id=pending.id)),
                pending.duration_seconds,
                pending.until_at,
            )
            if theirs == wanted:
                return pending.id
    return None


def requirements_for(ctx: ServiceContext, verb: str, changes: list[PlatformChange], *, temporary: bool) -> Requirements:
    items = []
    for change in changes:
        items += grant_items(
            platform=change.platform,
            verb=verb,
            catalog=ctx.catalogs[change.platform],
            grant=AccessChange.model_validate(change.grant) if change.grant is not None else None,
            method=RemovalMethod(change.method) if change.method else None,
            temporary=temporary,
        )
    return evaluate(ctx.policy, items, ctx.settings)


def store_and_announce(
    ctx: ServiceContext,
    request: AccessRequest,
    changes: list[PlatformChange],
    *,
    actor: str,
    detail: dict[str, Any],
) -> RequestView:
    """Store a new request with its changes, record it, and post its approval card."""
    with session_scope(ctx.engine) as session:
        view = store(session, ctx, request, changes, actor=actor, detail=detail)
    return announce(ctx, view)


def store(
    session: Session,
    ctx: ServiceContext,
    request: AccessRequest,
    changes: list[PlatformChange],
    *,
    actor: str,
    detail: dict[str, Any],
) -> RequestView:
    """Store a new request with its changes and record it, in the caller's transaction."""
    add_request(session=session, request=request, changes=changes)
    assert request.id is not None
    for change in changes:
        record(
            session=session,
            event=AuditKind.REQUESTED,
            actor=actor,
            at=request.created_at,
            request_id=request.id,
            platform=change.platform,
            target_email=request.target_email,
            detail={
                **detail,
                "verb": request.verb,
                "action": change.action,
                "grant": change.grant,
                "method": change.method,
                "reason": request.reason,
                "access_at_request": change.access_at_request,
            },
        )
    view = ctx.view(session, request.id)
    assert view is not None
    with about_request(view.id):
        logger.info("%s asked to %s for %s on %s", actor, view.verb, view.target_email, ", ".join(view.platforms))
    return view


def announce(ctx: ServiceContext, view: RequestView) -> RequestView:
    """Post the approval card of a stored request, and remember where it is."""
    card = ctx.notifier.request_submitted(view)
    if card is not None:
        with session_scope(ctx.engine) as session:
            set_card(session=session, request_id=view.id, channel=card.channel, ts=card.ts)
        view = view.model_copy(update={"card": card})
    return view


def _check_duration(
    ctx: ServiceContext, command: GrantCommand | RemoveCommand, requester: Person, now: datetime
) -> datetime | None:
    if not isinstance(command, GrantCommand) or not command.is_temporary:
        return None
    until_at = command.until.resolve(zone_named(requester.tz)) if command.until else None
    requested = command.duration if command.duration is not None else until_at - now  # type: ignore[operator]
    assert isinstance(requested, timedelta)
    if (refusal := duration_refusal(ctx, command, requested)) is not None:
        raise RequestRefused(refusal)
    return until_at


def duration_refusal(ctx: ServiceContext, command: GrantCommand, requested: timedelta) -> str | None:
    """Why the platform's limits refuse a temporary grant this long (its longest and its roles' longest), if they do.
    `/access` and `accessbot policy explain` ask the same question here."""
    verdict = duration_verdict(
        policy=ctx.settings[command.platform], platform=command.platform, roles=(command.role,), requested=requested
    )
    return None if verdict.allowed else verdict.reason


def _plan_changes(
    ctx: ServiceContext, command: GrantCommand | RemoveCommand, email: str, now: datetime
) -> list[PlatformChange]:
    if isinstance(command, GrantCommand):
        current = _current_access(ctx, command.platform, email)
        _check_grant(ctx, command, email, current)
        warnings: list[str] = []
        if current is not None:
            desired = desired_state(command.change, None, current, ctx.catalogs[command.platform])
            warnings = ctx.platforms[command.platform].warnings(current, desired)
            warnings += _guard(ctx, command.platform, current, desired)
        return [
            PlatformChange(
                platform=command.platform,
                action="grant",
                grant=command.change.model_dump(mode="json"),
                status=ChangeStatus.WAITING.value,
                access_at_request=current.model_dump(mode="json") if current else None,
                warnings=warnings,
                updated_at=now,
            )
        ]
    names = list(ctx.platforms) if command.platform == ALL_PLATFORMS else [command.platform]
    changes = []
    for name in names:
        current = _current_access(ctx, name, email)
        if current is not None and not current.member:
            continue
        method = command.method or ctx.settings[name].removal_method
        if current is not None and not diff(current, desired_state(None, method, current, ctx.catalogs[name])):
            continue
        if current is not None:
            _guard(ctx, name, current, desired_state(None, method, current, ctx.catalogs[name]))
        changes.append(
            PlatformChange(
                platform=name,
                action="remove",
                method=method.value,
                status=ChangeStatus.WAITING.value,
                access_at_request=current.model_dump(mode="json") if current else None,
                updated_at=now,
            )
        )
    if not changes:
        where = "any configured platform" if command.platform == ALL_PLATFORMS else command.platform
        already = " (already revoked)" if command.method is RemovalMethod.REVOKE else ""
        raise RequestRefused(f"{email} has no access to remove on {where}{already}. Nothing to do.")
    return changes


def _check_grant(ctx: ServiceContext, command: GrantCommand, email: str, current: AccessState | None) -> None:
    if current is None:
        return  # unknown right now; apply reads it again and verifies
    if command.verb == "update" and not current.member:
        raise RequestRefused(
            f"{email} is not a member of {command.platform}, so there is nothing to update. "
            f"Use `/access add` to invite them."
        )
    desired = desired_state(command.change, None, current, ctx.catalogs[command.platform])
    if not diff(current, desired) and not command.is_temporary:
        raise RequestRefused(f"{email} already has that on {command.platform} ({current.describe()}). Nothing to do.")


def _guard(ctx: ServiceContext, platform: str, current: AccessState, desired: AccessState) -> list[str]:
    """The guard rails: refuse what they forbid (RequestRefused), return their warnings for the card."""
    catalog = ctx.catalogs[platform]
    admins = count_org_admins(ctx, platform) if needs_admin_count(catalog, current, desired) else None
    result = guard_rails(
        ctx.policy.guard_rails,
        platform=platform,
        catalog=catalog,
        current=current,
        desired=desired,
        org_admins=admins,
    )
    if result.refusals:
        raise RequestRefused(" ".join(result.refusals))
    return list(result.warnings)


def _current_access(ctx: ServiceContext, platform: str, email: str) -> AccessState | None:
    """The member's access now, or None when the platform cannot say (the card then says so)."""
    client = ctx.platforms[platform]
    try:
        with client.operation():
            return client.get_access(email)
    except PlatformError:
        logger.warning("could not read %s access for request card", platform, exc_info=True)
        return None


def card_posted(ctx: ServiceContext, request_id: int, card: MessageRef) -> None:
    """An approval card Slack could not take at first is posted now: remember where, and bring it up to date."""
    with session_scope(ctx.engine) as session:
        set_card(session=session, request_id=request_id, channel=card.channel, ts=card.ts)
    view = ctx.load_view(request_id)
    if view is not None:
        ctx.notifier.request_progressed(view)
