"""Grants as people see them, and the rules for extending a temporary one.

An extension is judged as a grant of the same roles and scopes would be: the same rules (approvals, approvers, the
security group), and the longest duration counted from when the grant started, not from now, so that several
extensions never add up to more than one grant could have had.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from domain.access import AccessState
from domain.durations import format_duration
from domain.ledger import LIVE, GrantState
from domain.policy import Requirements, duration_verdict, evaluate, request_refusals
from services.approvers import held_items
from services.context import ServiceContext
from services.views import GrantView, RequestView, grant_view
from storage.ledger import find_account, get_account, get_grant, grants_of, live_grants


def load(ctx: ServiceContext, grant_id: int) -> tuple[GrantView, RequestView] | None:
    with Session(ctx.engine) as session:
        row = get_grant(session=session, grant_id=grant_id)
        if row is None:
            return None
        view = grant_view(row, get_account(session=session, account_id=row.account_id))
        request = ctx.view(session, row.request_id)
    assert request is not None
    return view, request


def live_views(
    ctx: ServiceContext, *, target_email: str | None = None, platform: str | None = None, temporary_only: bool = False
) -> list[GrantView]:
    with Session(ctx.engine) as session:
        return [
            grant_view(row)
            for row in live_grants(
                session=session, email=target_email, platform=platform, temporary_only=temporary_only
            )
        ]


class AccountLedger(BaseModel):
    """What the ledger knows of one person's account on one platform: its baseline and the grants still live."""

    model_config = ConfigDict(frozen=True)

    platform: str
    email: str
    baseline: AccessState | None = None
    baseline_source: str | None = None
    grants: tuple[GrantView, ...] = ()


def account_ledger(ctx: ServiceContext, platform: str, email: str) -> AccountLedger:
    with Session(ctx.engine) as session:
        account = find_account(session=session, platform=platform, email=email)
        if account is None or account.id is None:
            return AccountLedger(platform=platform, email=email)
        rows = grants_of(session=session, account_id=account.id, states=[*LIVE, GrantState.ENDING])
        return AccountLedger(
            platform=platform,
            email=email,
            baseline=AccessState.model_validate(account.baseline) if account.baseline is not None else None,
            baseline_source=account.baseline_source,
            grants=tuple(grant_view(row, account) for row in rows),
        )


def extension_requirements(ctx: ServiceContext, grant: GrantView) -> Requirements:
    """What extending this grant needs: the rules a grant of its roles and scopes matches."""
    items = held_items(grant.platform, ctx.catalogs[grant.platform], grant.parts.items())
    return evaluate(ctx.policy, items, ctx.settings)


def extension_refusal(
    ctx: ServiceContext, grant: GrantView, request: RequestView, *, new_end: datetime, now: datetime
) -> str | None:
    """Why this grant may not last until `new_end` (None: it may). Checked when an extension is asked for and again
    when it is applied, against the grant's start: extensions add up."""
    if grant.state is not GrantState.ACTIVE or grant.ends_at is None or grant.started_at is None:
        return "The temporary access already ended, so there is nothing to extend."
    total = new_end - grant.started_at
    refusals = request_refusals(extension_requirements(ctx, grant), ticket=request.ticket, duration=total)
    if refusals:
        return " ".join(refusals)
    roles = tuple(str(value) for value in grant.parts.values() if isinstance(value, str))
    verdict = duration_verdict(
        policy=ctx.settings[grant.platform], platform=grant.platform, roles=roles, requested=total
    )
    if not verdict.allowed:
        return verdict.reason
    if request.break_glass and total > ctx.policy.break_glass.max_duration:
        return (
            f"Break-glass access lasts at most {format_duration(ctx.policy.break_glass.max_duration)} in all; this "
            f"would make it {format_duration(total)}. Ask an approver for an ordinary grant instead."
        )
    if new_end <= now:
        return "That would end it in the past."
    return None


def extended_end(grant: GrantView, by: timedelta) -> datetime:
    assert grant.ends_at is not None
    return grant.ends_at + by
