"""The facts the policy needs, gathered from the request, the config and Slack: who may approve, what it grants."""

from __future__ import annotations

from collections.abc import Iterable

from domain.access import AccessChange, RemovalMethod
from domain.catalog import RoleCatalog
from domain.ledger import ACCOUNT_ROLE, SCOPE_PREFIX
from domain.policy import (
    ApprovalVerdict,
    Approver,
    GrantItem,
    RequestFacts,
    Requirements,
    approval_verdict,
    evaluate,
    group_ids,
)
from platforms.base import PlatformError
from services.context import ServiceContext
from services.ports import Person
from services.views import ChangeView, RequestView


def members(ctx: ServiceContext, entries: Iterable[str]) -> frozenset[str]:
    """Slack user ids, with user groups expanded to their members."""
    listed = tuple(entries)
    users = {entry for entry in listed if not entry.startswith("S")}
    for group in group_ids(listed):
        users |= ctx.directory.group_members(group)
    return frozenset(users)


def eligible_approvers(
    ctx: ServiceContext, platforms: tuple[str, ...], requirements: Requirements | None = None
) -> dict[str, frozenset[str] | None]:
    """Each platform's approvers as Slack user ids; None where none are configured (workspace admins approve)."""
    eligible: dict[str, frozenset[str] | None] = {}
    for platform in platforms:
        configured = (requirements.approvers.get(platform) if requirements else None) or (
            ctx.settings[platform].approvers if platform in ctx.settings else ()
        )
        eligible[platform] = members(ctx, configured) if configured else None
    return eligible


def current_approvers(ctx: ServiceContext, view: RequestView) -> dict[str, tuple[str, ...]]:
    """Who may approve this request under the config as it is now (a rule's approvers, else the platform's): an
    approver taken out of the config cannot decide on a request made before."""
    items: list[GrantItem] = []
    for change in view.changes:
        if change.platform not in ctx.catalogs:
            continue
        catalog = ctx.catalogs[change.platform]
        if change.extends is not None:
            items += held_items(change.platform, catalog, change.extends.parts.items())
        else:
            items += grant_items(
                platform=change.platform,
                verb=view.verb,
                catalog=catalog,
                grant=change.grant,
                method=change.method,
                temporary=view.duration is not None or view.until_at is not None,
            )
    return evaluate(ctx.policy, items, ctx.settings).approvers


def facts_of(view: RequestView) -> RequestFacts:
    return RequestFacts(
        requester_id=view.requester_id,
        target_email=view.target_email,
        target_slack_id=view.target_slack_id,
        platforms=view.platforms,
    )


def verdict_for(ctx: ServiceContext, view: RequestView, person: Person, *, counting: bool = True) -> ApprovalVerdict:
    """Whether `person` may approve (or, `counting` False: take part in deciding) this request, given its rules and
    the approvals so far."""
    now_approvers = current_approvers(ctx, view)
    requirements = (
        view.requirements.model_copy(update={"approvers": now_approvers})
        if counting
        else Requirements(allow_self_approval=view.requirements.allow_self_approval, approvers=now_approvers)
    )
    return approval_verdict(
        request=facts_of(view),
        requirements=requirements,
        approver=Approver(slack_id=person.slack_id, email=person.email, is_workspace_admin=person.is_workspace_admin),
        eligible=eligible_approvers(ctx, view.platforms, requirements),
        mailboxes=ctx.policy.people,
        prior=view.approvals if counting else (),
        required_members=[members(ctx, group) for group in requirements.require_one_of],
    )


def decision_verdict(ctx: ServiceContext, view: RequestView, person: Person) -> ApprovalVerdict:
    """Whether `person` may decide on this request at all (deny it, retry it), whatever the approvals so far."""
    return verdict_for(ctx, view, person, counting=False)


def grant_items(
    *,
    platform: str,
    verb: str,
    catalog: RoleCatalog,
    grant: AccessChange | None,
    method: RemovalMethod | None,
    temporary: bool,
) -> list[GrantItem]:
    """What one platform change grants or removes, item by item, as the rules match them."""
    if method is not None:
        return [GrantItem(platform=platform, verb="remove", level="account", permanent=not temporary)]
    items = []
    if grant is not None and grant.account_role is not None:
        items.append(
            GrantItem(
                platform=platform,
                verb=verb,
                level="account",
                role=grant.account_role,
                admin=catalog.is_admin(grant.account_role),
                permanent=not temporary,
            )
        )
    for scope, role in (grant.scopes if grant else {}).items():
        items.append(
            GrantItem(platform=platform, verb=verb, level="scope", scope=scope, role=role, permanent=not temporary)
        )
    return items


def held_items(platform: str, catalog: RoleCatalog, parts: Iterable[tuple[str, object]]) -> list[GrantItem]:
    """What a grant covers, as the items of an `extend` request the rules match."""
    items = []
    for part, value in parts:
        if part == ACCOUNT_ROLE and isinstance(value, str):
            items.append(
                GrantItem(
                    platform=platform,
                    verb="extend",
                    level="account",
                    role=value,
                    admin=catalog.is_admin(value),
                    permanent=False,
                )
            )
        elif part.startswith(SCOPE_PREFIX) and isinstance(value, str):
            items.append(
                GrantItem(
                    platform=platform,
                    verb="extend",
                    level="scope",
                    scope=part.removeprefix(SCOPE_PREFIX),
                    role=value,
                    permanent=False,
                )
            )
    return items


def change_items(ctx: ServiceContext, view: RequestView, change: ChangeView) -> list[GrantItem]:
    catalog = ctx.catalogs[change.platform]
    if change.extends is not None:
        return held_items(change.platform, catalog, change.extends.parts.items())
    return grant_items(
        platform=change.platform,
        verb=view.verb,
        catalog=catalog,
        grant=change.grant,
        method=change.method,
        temporary=view.is_temporary,
    )


def count_org_admins(ctx: ServiceContext, platform: str) -> int | None:
    """How many organisation admins a platform has now; None when it cannot say."""
    client = ctx.platforms[platform]
    try:
        return sum(1 for member in client.list_members() if client.catalog.is_admin(member.access.account_role))
    except PlatformError:
        return None
