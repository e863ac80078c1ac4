"""What the policy would make of a request, without creating anything (`accessbot policy explain`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.commands import ALL_PLATFORMS, GrantCommand, RemoveCommand
from domain.policy import Requirements, evaluate, guard_rails, needs_admin_count, request_refusals
from platforms.base import PlatformError
from services.approvers import count_org_admins, grant_items
from services.context import ServiceContext
from services.submit import duration_refusal
from services.views import desired_state


class Explanation(BaseModel):
    model_config = ConfigDict(frozen=True)

    requirements: Requirements
    refusals: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def explain(ctx: ServiceContext, command: GrantCommand | RemoveCommand) -> Explanation:
    temporary = isinstance(command, GrantCommand) and command.is_temporary
    if isinstance(command, GrantCommand):
        platforms = [command.platform]
        items = grant_items(
            platform=command.platform,
            verb=command.verb,
            catalog=ctx.catalogs[command.platform],
            grant=command.change,
            method=None,
            temporary=temporary,
        )
    else:
        platforms = list(ctx.platforms) if command.platform == ALL_PLATFORMS else [command.platform]
        items = [
            item
            for name in platforms
            for item in grant_items(
                platform=name,
                verb="remove",
                catalog=ctx.catalogs[name],
                grant=None,
                method=command.method or ctx.settings[name].removal_method,
                temporary=False,
            )
        ]
    requirements = evaluate(ctx.policy, items, ctx.settings)
    span: timedelta | None = None
    notes: list[str] = []
    if isinstance(command, GrantCommand):
        span = command.duration
        if command.until is not None:
            notes.append("the length of an `until` grant depends on when it is approved; checked then")
    refusals = request_refusals(requirements, ticket=command.ticket, duration=span if temporary else None)
    if temporary and span is not None and isinstance(command, GrantCommand):
        refusals = [refusal, *refusals] if (refusal := duration_refusal(ctx, command, span)) else refusals
    warnings: list[str] = []
    email = command.target.email
    if email is None:
        notes.append("the target is a Slack mention: the guard rails need their email, so they were not checked")
        return Explanation(requirements=requirements, refusals=refusals, notes=notes)
    for name in platforms:
        try:
            current = ctx.platforms[name].get_access(email)
        except PlatformError as error:
            notes.append(f"{name}: could not read the current access ({error.message}); guard rails not checked")
            continue
        grant = command.change if isinstance(command, GrantCommand) else None
        method = None if grant else (command.method or ctx.settings[name].removal_method)  # type: ignore[union-attr]
        desired = desired_state(grant, method, current, ctx.catalogs[name])
        catalog = ctx.catalogs[name]
        admins = count_org_admins(ctx, name) if needs_admin_count(catalog, current, desired) else None
        result = guard_rails(
            ctx.policy.guard_rails, platform=name, catalog=catalog, current=current, desired=desired, org_admins=admins
        )
        refusals += result.refusals
        warnings += [*result.warnings, *ctx.platforms[name].warnings(current, desired)]
    return Explanation(requirements=requirements, refusals=refusals, warnings=warnings, notes=notes)
