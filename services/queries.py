"""Read-only questions: who is this target, what access do they have, what requests are there."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from domain.access import AccessState
from domain.commands import Target
from domain.lifecycle import RequestStatus
from platforms.base import PlatformError
from services.context import RequestRefused, ServiceContext
from services.ports import PersonNotFound
from services.views import RequestView, request_view
from storage.audit import events_for
from storage.ledger import grants_by_id
from storage.models import AuditEvent
from storage.requests import approvals_for, changes_by_request, list_requests
from storage.tasks import tasks_of


def resolve_target(ctx: ServiceContext, target: Target) -> tuple[str, str | None]:
    """The target's email and, when Slack knows them, their Slack id."""
    if target.slack_id is not None:
        try:
            person = ctx.directory.person(target.slack_id)
        except PersonNotFound as error:
            raise RequestRefused(
                f"Slack does not know <@{target.slack_id}>; type their email address instead."
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


def request_views(
    ctx: ServiceContext,
    *,
    statuses: Iterable[RequestStatus] | None = None,
    target_email: str | None = None,
    platform: str | None = None,
    limit: int = 50,
) -> list[RequestView]:
    with Session(ctx.engine) as session:
        requests = list_requests(
            session=session, statuses=statuses, target_email=target_email, platform=platform, limit=limit
        )
        ids = [request.id for request in requests if request.id is not None]
        grouped = changes_by_request(session=session, request_ids=ids)
        extended = [c.grant_id for changes in grouped.values() for c in changes if c.grant_id is not None]
        grants = grants_by_id(session=session, request_ids=ids, grant_ids=extended)
        tasks = tasks_of(session=session, request_ids=ids)
        approvals = approvals_for(session=session, request_ids=ids)
        return [
            request_view(request, grouped[request.id], ctx.settings, ctx.catalogs, grants, tasks, approvals[request.id])
            for request in requests
            if request.id is not None
        ]


def request_history(ctx: ServiceContext, request_id: int) -> tuple[RequestView, list[AuditEvent]] | None:
    with Session(ctx.engine) as session:
        view = ctx.view(session, request_id)
        if view is None:
            return None
        return view, events_for(session=session, request_id=request_id)
