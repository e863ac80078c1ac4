"""The work behind `/access` (its answer at once, bad input and help included, is in handlers/answers.py)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from domain.commands import (
    CommandError,
    EvidenceCommand,
    GrantCommand,
    ListCommand,
    RemoveCommand,
    StatusCommand,
    parse_command,
)
from domain.lifecycle import RequestStatus
from handlers.answers import Listener
from handlers.blocks import replies
from handlers.blocks.evidence import evidence_message
from handlers.blocks.text import escape, notice
from services import break_glass, evidence, visibility
from services.context import RequestRefused, ServiceContext
from services.grants import live_views
from services.ports import Person
from services.queries import access_everywhere, invitations_of, request_history, request_views, resolve_target, views_of
from services.submit import submit
from services.views import RequestView
from services.visibility import approved_platforms

logger = logging.getLogger("accessbot.handlers")


Work = GrantCommand | RemoveCommand | ListCommand | StatusCommand | EvidenceCommand


def works(ctx: ServiceContext) -> list[Listener]:
    def access_command(body: dict[str, Any], command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        text = command.get("text") or ""
        try:
            parsed = parse_command(text, ctx.catalogs)
        except CommandError:
            return  # answered in the acknowledgement
        if not isinstance(parsed, Work):
            return
        try:
            respond(**answer(ctx, parsed, user_id=command["user_id"], text=text))
        except RequestRefused as refusal:
            respond(**notice(f"⚠️ {escape(str(refusal))}"))  # it may quote a name someone chose

    return [access_command]


def answer(
    ctx: ServiceContext,
    parsed: Work,
    *,
    user_id: str,
    text: str,
) -> dict[str, Any]:
    """The reply to a parsed command that needs the database, a platform or Slack's directory."""
    if isinstance(parsed, StatusCommand):
        found = request_history(ctx, parsed.request_id)
        if found is None:
            return notice(f"Request #{parsed.request_id} does not exist. `/access list` shows recent ones.")
        if not _may_see(ctx, ctx.directory.person(user_id), found[0]):
            return notice(NOT_YOURS.format(what=f"request #{parsed.request_id}"))
        return replies.status_message(*found)
    if isinstance(parsed, EvidenceCommand):
        return _evidence(ctx, parsed.request_id, user_id=user_id)
    if isinstance(parsed, ListCommand):
        person = ctx.directory.person(user_id)
        email = resolve_target(ctx, parsed.target)[0] if parsed.target else None
        platforms = [parsed.platform] if parsed.platform else None
        if email is not None and not ctx.policy.people.same(person.email, email):
            # Someone else's access: only on the platforms this person approves (all, for a workspace admin).
            platforms = sorted(approved_platforms(ctx, person, platforms))
            if not platforms:
                return notice(NOT_YOURS.format(what=f"{email}'s access"))
        access = (email, access_everywhere(ctx, email, platforms)) if email else None
        open_requests = request_views(
            ctx,
            target_email=email,
            platform=parsed.platform,
            statuses=None if email else [RequestStatus.PENDING, RequestStatus.APPLYING, RequestStatus.FAILED],
            limit=15,
        )
        # For one person, every live grant; for everyone, the temporary ones. Of either, only what this person
        # may see.
        grants = live_views(ctx, target_email=email, platform=parsed.platform, temporary_only=email is None)
        sources = views_of(ctx, {grant.request_id for grant in grants})
        grants = [grant for grant in grants if _may_see(ctx, person, sources[grant.request_id])]
        open_requests = [view for view in open_requests if _may_see(ctx, person, view)]
        yours = None
        if email is None and person.email:
            # With no one named, the asker sees their own access first.
            yours = (person.email, access_everywhere(ctx, person.email, platforms))
        invited = invitations_of(ctx, [answer[0] for answer in (access, yours) if answer is not None])
        return replies.list_message(
            open_requests=open_requests, access=access, grants=grants, now=ctx.clock.now(), yours=yours, invited=invited
        )
    requester = ctx.directory.person(user_id)
    email, slack_id = resolve_target(ctx, parsed.target)
    if isinstance(parsed, GrantCommand) and parsed.verb == "break-glass":
        taken = break_glass.take(
            ctx, parsed, requester=requester, target_email=email, target_slack_id=slack_id, text=f"/access {text}"
        )
        return replies.break_glass_notice(taken)
    view = submit(
        ctx, parsed, requester=requester, target_email=email, target_slack_id=slack_id, text=f"/access {text}"
    )
    return replies.submitted_notice(view)


NOT_YOURS = (
    "You can see {what} only if it is yours (you asked, or it is your access) or you approve its platform. "
    "`/access list` shows your own."
)


def _may_see(ctx: ServiceContext, person: Person, view: RequestView) -> bool:
    return visibility.may_see(
        ctx,
        person,
        platforms=view.platforms,
        requester_id=view.requester_id,
        target_slack_id=view.target_slack_id,
        target_email=view.target_email,
    )


def _evidence(ctx: ServiceContext, request_id: int, *, user_id: str) -> dict[str, Any]:
    found = evidence.gather(ctx, request_id)
    if found is None:
        return notice(f"Request #{request_id} does not exist. `/access list` shows recent ones.")
    if not evidence.may_see(ctx, found, ctx.directory.person(user_id)):
        return notice(
            f"🚫 The evidence of request #{request_id} is for its requester, the person concerned, the approvers of "
            "its platforms and workspace admins."
        )
    return evidence_message(found)
