"""Read-only questions: who is this target, what access do they have, what requests are there."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from domain.access import AccessState
from domain.commands import Target
from domain.lifecycle import RequestStatus
from platforms.base import PlatformError
from services.context import RequestRefused, ServiceContext
from services.ports import PersonNotFound
from services.views import RequestView, load_views
from storage.audit import events_for
from storage.models import AuditEvent
from storage.requests import list_requests, requests_by_id
from storage.tasks import open_invitations


def resolve_target(ctx: ServiceContext, target: Target) -> tuple[str, str | None]:
    """The target's email and, when Slack knows them, their Slack id."""
    if target.slack_id is not None:
        try:
            person = ctx.directory.person(target.slack_id)
        except PersonNotFound as error:
            raise RequestRefused(
                f"Slack does not know the member {target.slack_id}; type their email address instead."
            ) from error
        if not person.email:
            raise RequestRefused(
                f"Slack shows no email for {person.label()}, and platforms know people by email. "
                "Type their email address instead."
            )
        return person.email, person.slack_id
    assert target.email is not None
    found = ctx.directory.person_by_email(target.email)
    return target.email, found.slack_id if found else None


def access_everywhere(
    ctx: ServiceContext, email: str, platforms: Iterable[str] | None = None
) -> dict[str, AccessState | str]:
    """Each platform's answer for one person, or the reason it could not answer."""
    answers: dict[str, AccessState | str] = {}
    for name in platforms if platforms is not None else ctx.platforms:
        try:
            answers[name] = ctx.platforms[name].get_access(email)
        except PlatformError as error:
            answers[name] = error.message
    return answers


def invitations_of(ctx: ServiceContext, emails: Iterable[str]) -> dict[str, dict[str, datetime | None]]:
    """Per person, the platforms whose invitation they have not accepted yet, and when each expires."""
    found: dict[str, dict[str, datetime | None]] = {}
    with Session(ctx.engine) as session:
        for email in emails:
            for task in open_invitations(session=session, email=email):
                found.setdefault(email, {})[task.platform or ""] = task.due_by
    return found


def views_of(ctx: ServiceContext, request_ids: Iterable[int]) -> dict[int, RequestView]:
    """Several requests' views, read together (a few queries, however many)."""
    with Session(ctx.engine) as session:
        requests = requests_by_id(session=session, request_ids=request_ids)
        return load_views(session, requests, ctx.settings, ctx.catalogs)


def request_views(
    ctx: ServiceContext,
    *,
    statuses: Iterable[RequestStatus] | None = None,
    target_email: str | None = None,
    requester_id: str | None = None,
    platform: str | None = None,
    limit: int = 50,
) -> list[RequestView]:
    with Session(ctx.engine) as session:
        requests = list_requests(
            session=session,
            statuses=statuses,
            target_email=target_email,
            requester_id=requester_id,
            platform=platform,
            limit=limit,
        )
        views = load_views(session, requests, ctx.settings, ctx.catalogs)
        return [views[request.id] for request in requests if request.id is not None]


def request_history(ctx: ServiceContext, request_id: int) -> tuple[RequestView, list[AuditEvent]] | None:
    with Session(ctx.engine) as session:
        view = ctx.view(session, request_id)
        if view is None:
            return None
        return view, events_for(session=session, request_id=request_id)
