"""Access reviews: what deserves an approver's attention about one person's access.

The removal procedures name the triggers: "access review findings: quarterly audits identify inactive accounts or
excessive permissions", temporary access that outlived its purpose, and admins beyond the "two or three trusted
individuals" the Heap reference recommends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.access import AccessState


class FindingKind(StrEnum):
    DORMANT = "dormant"
    OVERDUE_ELEVATION = "overdue_elevation"
    TOO_MANY_ADMINS = "too_many_admins"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    text: str


class ReviewLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    dormant_after: timedelta
    max_admins: int


def findings(
    *,
    access: AccessState,
    last_active: datetime | None,
    now: datetime,
    limits: ReviewLimits,
    overdue_elevations: Sequence[datetime] = (),
    is_admin: bool = False,
    admin_count: int = 0,
) -> tuple[Finding, ...]:
    """The flags on one member's row. `last_active` None means the platform does not report activity: no flag."""
    found: list[Finding] = []
    if last_active is not None and now - last_active >= limits.dormant_after:
        days = (now - last_active).days
        found.append(Finding(kind=FindingKind.DORMANT, text=f"no activity for {days} days"))
    for expired in sorted(overdue_elevations):
        found.append(
            Finding(
                kind=FindingKind.OVERDUE_ELEVATION,
                text=f"temporary access that should have ended {expired:%Y-%m-%d %H:%M} UTC is still in place",
            )
        )
    if access.member and is_admin and admin_count > limits.max_admins:
        found.append(
            Finding(
                kind=FindingKind.TOO_MANY_ADMINS,
                text=f"one of {admin_count} account admins; the policy allows {limits.max_admins}",
            )
        )
    return tuple(found)
