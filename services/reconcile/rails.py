"""The admin guard rails, checked right before a change under the platform's admin claim.

How many organisation admins a platform has is a count over every account on it, so two changes that move it must
not both be checked against the same number: each takes the platform's claim (storage.models.PlatformClaim) for
its count, apply and verification. Changes that cannot move the count do not take it.
"""

from __future__ import annotations

from datetime import timedelta

from domain.access import AccessState
from domain.policy import guard_rails, needs_admin_count
from services.approvers import count_org_admins
from services.context import ServiceContext
from services.reconcile.plan import change_target
from storage.db import session_scope
from storage.ledger import Claim, claim, mark_due, platform_claim_row
from storage.models import PlatformChange, PlatformClaim

#: How soon a change that found the admin claim taken looks again.
RETRY_ADMIN_CLAIM = timedelta(seconds=1)


def check_guard_rails(
    ctx: ServiceContext, held: Claim, change: PlatformChange, before: AccessState
) -> tuple[Claim | None, str | None] | None:
    """The platform's admin claim to release once the step is recorded (None when the change cannot move the
    admin count) and the refusal, if any; None when another change holds the claim (the account is then due again
    in a moment). `before`: what the ledger gives the person now."""
    catalog = ctx.catalogs[change.platform]
    after = change_target(catalog, change, before)
    if not needs_admin_count(catalog, before, after):
        return None, None
    with session_scope(ctx.engine) as session:
        platform_claim_row(session=session, platform=change.platform)
    with session_scope(ctx.engine) as session:
        admins = claim(
            session=session,
            table=PlatformClaim,
            key=change.platform,
            token=held.token,
            now=ctx.clock.now(),
            lease=ctx.leases.lease,
        )
        if admins is None:
            mark_due(session=session, account_id=int(held.key), at=ctx.clock.now() + RETRY_ADMIN_CLAIM)
            return None
    with ctx.leases.holding(PlatformClaim, admins):
        count = count_org_admins(ctx, change.platform)
    result = guard_rails(
        ctx.policy.guard_rails,
        platform=change.platform,
        catalog=catalog,
        current=before,
        desired=after,
        org_admins=count,
    )
    refusal = f"refused by a guard rail right before applying: {' '.join(result.refusals)}" if result.refusals else None
    return admins, refusal
