"""Every approval rule, in one pure module: who may approve what, and how long a grant may last.

Nothing here does I/O. Callers resolve Slack user groups into member ids first and pass facts in; the functions
return a `Verdict` whose reason is shown to the person refused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from domain.catalog import name_key
from domain.durations import DurationError, format_duration, parse_duration


def _coerce_duration(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as error:
            raise ValueError(str(error)) from error
    return value


#: A duration in config: `30d`, `4h`, or seconds.
ConfigDuration = Annotated[timedelta, BeforeValidator(_coerce_duration)]


class PlatformPolicy(BaseModel):
    """The rules for one platform, from the `platforms.<name>` section of the config file."""

    model_config = ConfigDict(frozen=True)

    # Slack user ids (U..., W...) and user group ids (S...). Empty: Slack workspace admins and owners approve.
    approvers: tuple[str, ...] = ()
    max_duration: ConfigDuration | None = None
    # Per-role maximum, by account or scope role name (`admin: 8h`); stricter than max_duration wins.
    role_max_duration: dict[str, ConfigDuration] = Field(default_factory=dict)
    min_duration: ConfigDuration | None = None
    # Whether the requester (or the person it is for) may extend a running elevation without a new approval.
    allow_self_extension: bool = False


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    allowed: bool
    reason: str = ""

    @classmethod
    def allow(cls) -> Verdict:
        return cls(allowed=True)

    @classmethod
    def refuse(cls, reason: str) -> Verdict:
        return cls(allowed=False, reason=reason)


class Approver(BaseModel):
    """The person clicking Approve, as Slack knows them."""

    model_config = ConfigDict(frozen=True)

    slack_id: str
    email: str | None = None
    is_workspace_admin: bool = False


class RequestFacts(BaseModel):
    """What the approval rules need to know about a request."""

    model_config = ConfigDict(frozen=True)

    requester_id: str
    target_email: str
    target_slack_id: str | None = None
    platforms: tuple[str, ...]


def group_ids(approvers: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(entry for entry in approvers if entry.startswith("S"))


def may_approve(*, request: RequestFacts, approver: Approver, eligible: dict[str, frozenset[str] | None]) -> Verdict:
    """Whether `approver` may approve `request`.

    `eligible` maps each platform of the request to the Slack user ids allowed to approve it (user groups already
    expanded), or None when the platform names no approvers, in which case workspace admins and owners may.
    A request spanning several platforms needs an approver eligible on every one of them.
    """
    if approver.slack_id == request.requester_id:
        return Verdict.refuse("You asked for this access, so someone else has to approve it.")
    if approver.slack_id == request.target_slack_id or (
        approver.email is not None and approver.email.lower() == request.target_email.lower()
    ):
        return Verdict.refuse("This request changes your own access, so someone else has to approve it.")
    for platform in request.platforms:
        allowed = eligible.get(platform)
        if allowed is None:
            if not approver.is_workspace_admin:
                return Verdict.refuse(
                    f"No approvers are configured for {platform}, so only Slack workspace admins may approve. "
                    f"Ask an admin, or set `platforms.{platform}.approvers` in the config."
                )
        elif approver.slack_id not in allowed:
            return Verdict.refuse(f"You are not an approver for {platform}.")
    return Verdict.allow()


def may_do_manual_step(
    *, target_email: str, target_slack_id: str | None, doer: Approver, eligible: frozenset[str] | None
) -> Verdict:
    """Who may say a manual step is done: an approver of its platform (an admin there), never the person whose
    access it changes. Unlike approving, the requester may do it: the decision was someone else's already."""
    if doer.slack_id == target_slack_id or (doer.email is not None and doer.email.lower() == target_email.lower()):
        return Verdict.refuse("This step changes your own access, so someone else has to do it.")
    if eligible is None:
        if doer.is_workspace_admin:
            return Verdict.allow()
        return Verdict.refuse("Only the platform's approvers (or Slack workspace admins) can mark this done.")
    if doer.slack_id not in eligible:
        return Verdict.refuse("Only the platform's approvers can mark this done.")
    return Verdict.allow()


def duration_verdict(*, policy: PlatformPolicy, platform: str, roles: tuple[str, ...], requested: timedelta) -> Verdict:
    """Whether a temporary grant of `roles` for `requested` fits the platform's limits."""
    if requested <= timedelta():
        return Verdict.refuse("That end time is already in the past.")
    if policy.min_duration is not None and requested < policy.min_duration:
        return Verdict.refuse(
            f"{platform} grants last at least {format_duration(policy.min_duration)}; "
            f"you asked for {format_duration(requested)}."
        )
    limit, because = policy.max_duration, f"on {platform}"
    wanted = {name_key(role) for role in roles}
    for role, role_limit in policy.role_max_duration.items():
        if name_key(role) in wanted and (limit is None or role_limit < limit):
            limit, because = role_limit, f"for {role} on {platform}"
    if limit is not None and requested > limit:
        return Verdict.refuse(
            f"Duration too long: {format_duration(requested)} asked, at most {format_duration(limit)} {because}. "
            f"Ask for `for {format_duration(limit).replace(' ', '')}` or less."
        )
    return Verdict.allow()
