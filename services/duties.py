"""Duties a platform can ask of the people who decide on it, each optional (`platforms.<name>`):

- `separation_of_duties`: who approved the access a removal takes away may not approve that removal, and who approved
  a request may not do its manual steps;
- `no_granting_above_own_role`: an approver's own role on the platform must be at least the role being granted, where
  the platform can say (it can read the approver's account by their Slack email).
"""

from __future__ import annotations

from sqlmodel import Session

from platforms.base import PlatformError
from services.context import ServiceContext, logger
from services.ports import Person
from services.views import ChangeView, RequestView
from storage.ledger import live_grants
from storage.requests import approvals_for


def any_duties(ctx: ServiceContext) -> bool:
    """Whether any platform asks a duty of the people who decide on it (without one, `approval_refusal` is None)."""
    return any(
        settings.separation_of_duties or settings.no_granting_above_own_role for settings in ctx.settings.values()
    )


def approval_refusal(ctx: ServiceContext, view: RequestView, person: Person) -> str | None:
    """Why `person` may not approve this request under its platforms' duties (None: they may)."""
    for change in view.changes:
        settings = ctx.settings.get(change.platform)
        if settings is None:
            continue
        if settings.separation_of_duties and change.action == "remove":
            granted = granted_by(ctx, change.platform, view.target_email)
            if person.slack_id in granted:
                return (
                    f"You approved the access this removes on {change.platform_label} (request "
                    f"#{granted[person.slack_id]}), and {change.platform} separates duties: someone else has to "
                    "approve its removal."
                )
        if settings.no_granting_above_own_role and change.action == "grant":
            refusal = _above_own_role(ctx, change, person)
            if refusal is not None:
                return refusal
    return None


def step_refusal(ctx: ServiceContext, view: RequestView, platform: str | None, person: Person) -> str | None:
    """Why `person` may not do a manual step of this request under its platform's duties (None: they may)."""
    settings = ctx.settings.get(platform or "")
    if settings is not None and settings.separation_of_duties and person.slack_id in view.approvals:
        return (
            f"You approved request #{view.id}, and {platform} separates duties: someone other than its approvers "
            "has to do its manual steps."
        )
    return None


def granted_by(ctx: ServiceContext, platform: str, email: str) -> dict[str, int]:
    """Who approved the grants that hold a person's access on a platform now: approver -> their request."""
    with Session(ctx.engine) as session:
        requests = sorted({grant.request_id for grant in live_grants(session=session, platform=platform, email=email)})
        approvals = approvals_for(session=session, request_ids=requests)
    return {approver: request_id for request_id in requests for approver in approvals.get(request_id, [])}


def _above_own_role(ctx: ServiceContext, change: ChangeView, person: Person) -> str | None:
    """Whether this grant gives more than the approver holds there; None also when the platform cannot say."""
    platform, catalog, grant = ctx.platforms.get(change.platform), ctx.catalogs.get(change.platform), change.grant
    if platform is None or catalog is None or grant is None or not person.email:
        return None
    try:
        with platform.operation():
            own = platform.get_access(person.email)
    except PlatformError as error:
        logger.warning("could not read %s's own role on %s: %s", person.slack_id, change.platform, error)
        return None
    own_role = own.account_role if own.member else None
    held = own_role or "no account"
    if grant.account_role and catalog.account_rank(own_role) < catalog.account_rank(grant.account_role):
        return (
            f"You hold {held} on {change.platform_label}, below the {grant.account_role} this grants, and "
            f"{change.platform} does not let anyone grant above their own role."
        )
    if catalog.is_admin(own_role):
        return None  # an organisation admin holds every scope
    for scope, role in grant.scopes.items():
        if role is not None and catalog.scope_rank(scope, own.scopes.get(scope)) < catalog.scope_rank(scope, role):
            mine = own.scopes.get(scope) or "no access"
            return (
                f"You hold {mine} on {scope} ({change.platform_label}), below the {role} this grants, and "
                f"{change.platform} does not let anyone grant above their own role."
            )
    return None
