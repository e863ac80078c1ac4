"""Every approval rule, in one pure module: who may approve what, how many must, and the guard rails.

Nothing here does I/O. Callers gather facts (the request's items, who approved so far, Slack user groups expanded to
member ids, how many admins a platform has) and pass them in; the functions return verdicts and requirements whose
reasons are shown to people as they are.

The shape, from the config file:
- `platforms.<name>`: the platform's approvers and duration limits (PlatformPolicy);
- `policy.rules`: rules matched against what a request changes; every matching rule applies and the strictest
  requirement wins (most approvals, shortest duration, every ticket pattern, every required group);
- `policy.guard_rails`, `policy.break_glass`, `policy.pending_expiry`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from domain.access import AccessState
from domain.catalog import RoleCatalog, name_key
from domain.durations import DurationError, format_duration, parse_duration
from domain.people import Mailboxes


def _coerce_duration(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as error:
            raise ValueError(str(error)) from error
    return value


#: A duration in config: `30d`, `4h`, or seconds.
ConfigDuration = Annotated[timedelta, BeforeValidator(_coerce_duration)]


def _check_slack_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not re.fullmatch(r"[UWS][A-Z0-9]{2,}", value):
            raise ValueError(
                f"{value!r} is not a Slack user id (U..., W...) or user group id (S...); find it in the person's or "
                "group's profile, under ⋮ > Copy member ID / Copy group ID"
            )
    return values


SlackIds = Annotated[tuple[str, ...], BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)]


# --- configuration -------------------------------------------------------------------------------------------------


class PlatformPolicy(BaseModel):
    """The rules for one platform, from the `platforms.<name>` section of the config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Slack user ids (U..., W...) and user group ids (S...). Empty: Slack workspace admins and owners approve.
    approvers: SlackIds = ()
    max_duration: ConfigDuration | None = None
    # Per-role maximum, by account or scope role name (`admin: 8h`); stricter than max_duration wins.
    role_max_duration: dict[str, ConfigDuration] = Field(default_factory=dict)
    min_duration: ConfigDuration | None = None
    # Whether the requester (or the person it is for) may extend a running elevation without a new approval.
    allow_self_extension: bool = False
    # Separation of duties: who approved the access a removal takes away may not approve the removal, and who
    # approved a request may not do its manual steps.
    separation_of_duties: bool = False
    # An approver's own role here must be at least the role being granted (where the platform can read it).
    no_granting_above_own_role: bool = False

    _approver_ids = field_validator("approvers")(classmethod(lambda cls, v: _check_slack_ids(v)))


class RuleMatch(BaseModel):
    """Which items of a request a rule is about. Every field left out matches anything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platforms: tuple[str, ...] = ()
    # Removals take access away, so by default rules govern grants only; list `remove` to govern removals too.
    verbs: tuple[Literal["add", "update", "remove", "extend", "break-glass"], ...] = (
        "add",
        "update",
        "extend",
        "break-glass",
    )
    # Where the role is held: the account, a scope (project, module, site), or either. (Not `on`: YAML reads
    # `on:` as true.)
    level: Literal["account", "scope", "any"] = "any"
    scopes: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    # True: only organisation admin roles (each platform's highest account role, unless configured otherwise).
    admin: bool | None = None
    # True: only permanent grants; False: only temporary ones.
    permanent: bool | None = None

    def matches(self, item: GrantItem) -> bool:
        return (
            (not self.platforms or item.platform in self.platforms)
            and item.verb in self.verbs
            and (self.level == "any" or self.level == item.level)
            and (not self.scopes or (item.scope is not None and _key_in(item.scope, self.scopes)))
            and (not self.roles or (item.role is not None and _key_in(item.role, self.roles)))
            and (self.admin is None or self.admin == item.admin)
            and (self.permanent is None or self.permanent == item.permanent)
        )


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    match: RuleMatch = Field(default_factory=RuleMatch)
    # How many different people must approve.
    approvals: int = Field(default=1, ge=1, le=10)
    # Who may approve what this rule covers, instead of the platform's approvers.
    approvers: SlackIds = ()
    # At least one of the approvals must come from one of these users or groups.
    require_one_of: SlackIds = ()
    ticket_pattern: str | None = None
    max_duration: ConfigDuration | None = None
    # `refuse`: permanent grants are not allowed under this rule; ask for a duration.
    permanent: Literal["allow", "refuse"] = "allow"
    # Only where explicitly allowed may someone approve their own request or their own access.
    allow_self_approval: bool = False

    _ids = field_validator("approvers", "require_one_of")(classmethod(lambda cls, v: _check_slack_ids(v)))

    @field_validator("ticket_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        return _compiled(value)


class GuardRails(BaseModel):
    """Limits from the Heap and Chartbeat references, checked at request time and again right before apply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_org_admins: int = Field(default=3, ge=1)  # "limit to 2-3 trusted individuals maximum"
    min_admins: int = Field(default=2, ge=0)  # "maintain at least two client admins"
    # Scopes where the highest role deserves a warning on the card.
    sensitive_scopes: tuple[str, ...] = ("production",)

    @model_validator(mode="after")
    def _admins_fit(self) -> GuardRails:
        if self.min_admins > self.max_org_admins:
            raise ValueError(
                f"min_admins ({self.min_admins}) is more than max_org_admins ({self.max_org_admins}): no number of "
                "admins would satisfy both; lower min_admins or raise max_org_admins"
            )
        return self


class BreakGlass(BaseModel):
    """Who may take access in an emergency without waiting for an approver, and on what terms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    members: SlackIds = ()  # empty: break-glass is off
    max_duration: ConfigDuration = timedelta(hours=4)
    per_person_per_day: int = Field(default=1, ge=1)
    # Told at once of every use; the approvals channel when not set.
    notify_channel: str | None = None

    _ids = field_validator("members")(classmethod(lambda cls, v: _check_slack_ids(v)))


class PolicyConfig(BaseModel):
    """The `policy:` section of the config file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Used by the default rule: an account admin grant needs an approval from this group.
    security_group: str | None = None
    # Asked of every request (besides a reason, which is always required).
    ticket_pattern: str | None = None
    rules: tuple[Rule, ...] | None = None  # None: the default rule
    guard_rails: GuardRails = Field(default_factory=GuardRails)
    break_glass: BreakGlass = Field(default_factory=BreakGlass)
    # Requests nobody decides expire after this; the approvers are reminded once, remind_before the end.
    pending_expiry: ConfigDuration = timedelta(hours=72)
    remind_before: ConfigDuration = timedelta(hours=24)
    # A removal never expires with the access still in place ("remove within 24 hours of the engagement's end"):
    # past this, the approvers are chased, with the security group, every `removal_chase_every` until someone decides.
    removal_deadline: ConfigDuration = timedelta(hours=24)
    removal_chase_every: ConfigDuration = timedelta(hours=4)
    # How two email addresses are recognised as one person (plus-addressing per domain).
    people: Mailboxes = Field(default_factory=Mailboxes)

    _pattern = field_validator("ticket_pattern")(classmethod(lambda cls, v: _compiled(v)))

    @field_validator("security_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None:
            _check_slack_ids((value,))
        return value

    @property
    def effective_rules(self) -> tuple[Rule, ...]:
        if self.rules is not None:
            return self.rules
        return (
            Rule(
                name="org-admin",
                match=RuleMatch(level="account", admin=True),
                approvals=2,
                require_one_of=(self.security_group,) if self.security_group else (),
            ),
        )


def _compiled(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"ticket pattern {pattern!r} is not a valid regular expression: {error}") from error
    return pattern


def _key_in(name: str, names: Iterable[str]) -> bool:
    return name_key(name) in {name_key(candidate) for candidate in names}


# --- facts about a request --------------------------------------------------------------------------------------


class GrantItem(BaseModel):
    """One thing a request changes, as the rules see it."""

    model_config = ConfigDict(frozen=True)

    platform: str
    verb: str
    level: Literal["account", "scope"]
    scope: str | None = None
    role: str | None = None  # None for a removal
    admin: bool = False  # an organisation admin role
    permanent: bool = True


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


class Requirements(BaseModel):
    """What a request needs before it can be applied, from every rule that matched it."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[str, ...] = ()
    approvals: int = 1
    # Per platform, who may approve (user and group ids); empty: Slack workspace admins.
    approvers: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Each set must be met by at least one approval.
    require_one_of: tuple[tuple[str, ...], ...] = ()
    ticket_patterns: tuple[str, ...] = ()
    max_duration: timedelta | None = None
    # Rules under which a permanent grant is refused.
    refuse_permanent: tuple[str, ...] = ()
    allow_self_approval: bool = False

    def explain(self) -> list[str]:
        needed = "1" if self.approvals == 1 else f"{self.approvals}, from different people"
        lines = [f"rules: {', '.join(self.rules) or 'none (the defaults apply)'}", f"approvals needed: {needed}"]
        for platform, approvers in sorted(self.approvers.items()):
            lines.append(f"approvers on {platform}: {', '.join(approvers) or 'Slack workspace admins and owners'}")
        lines += [f"at least one approval from: {', '.join(group)}" for group in self.require_one_of]
        lines += [f"ticket must match: {pattern}" for pattern in self.ticket_patterns]
        if self.max_duration is not None:
            lines.append(f"longest allowed: {format_duration(self.max_duration)}")
        if self.refuse_permanent:
            lines.append(f"permanent grants refused by: {', '.join(self.refuse_permanent)}")
        lines.append("self-approval: " + ("allowed" if self.allow_self_approval else "not allowed"))
        return lines


def evaluate(policy: PolicyConfig, items: Sequence[GrantItem], platforms: Mapping[str, PlatformPolicy]) -> Requirements:
    """Combine every rule matching any item of a request; the strictest requirement wins."""
    matched = [rule for rule in policy.effective_rules if any(rule.match.matches(item) for item in items)]
    approvers: dict[str, tuple[str, ...]] = {}
    for platform in dict.fromkeys(item.platform for item in items):
        governing = [
            rule
            for rule in matched
            if rule.approvers and any(rule.match.matches(item) for item in items if item.platform == platform)
        ]
        configured = platforms[platform].approvers if platform in platforms else ()
        approvers[platform] = tuple(dict.fromkeys(a for rule in governing for a in rule.approvers)) or configured
    permanent_items = [item for item in items if item.permanent and item.role is not None]
    limits = [rule.max_duration for rule in matched if rule.max_duration is not None]
    patterns = [policy.ticket_pattern] if policy.ticket_pattern else []
    patterns += [rule.ticket_pattern for rule in matched if rule.ticket_pattern]
    return Requirements(
        rules=tuple(rule.name for rule in matched),
        approvals=max([1, *(rule.approvals for rule in matched)]),
        approvers=approvers,
        require_one_of=tuple(rule.require_one_of for rule in matched if rule.require_one_of),
        ticket_patterns=tuple(dict.fromkeys(patterns)),
        max_duration=min(limits) if limits else None,
        refuse_permanent=tuple(
            rule.name
            for rule in matched
            if rule.permanent == "refuse" and any(rule.match.matches(item) for item in permanent_items)
        ),
        allow_self_approval=bool(matched) and all(rule.allow_self_approval for rule in matched),
    )


def request_refusals(requirements: Requirements, *, ticket: str | None, duration: timedelta | None) -> list[str]:
    """Why a request cannot be made under its rules (empty: it can). `duration` None is a permanent grant."""
    problems = []
    for pattern in requirements.ticket_patterns:
        if ticket is None:
            problems.append(f"A ticket is required: add `ticket: <id>` (it must match {pattern}).")
        elif not re.fullmatch(pattern, ticket):
            problems.append(f"Ticket {ticket!r} does not match the required pattern {pattern}.")
    if duration is None and requirements.refuse_permanent:
        longest = (
            f"for {format_duration(requirements.max_duration).replace(' ', '')}"
            if requirements.max_duration
            else "for <duration>"
        )
        problems.append(
            f"A permanent grant is not allowed by {', '.join(requirements.refuse_permanent)}: ask `{longest}` or less."
        )
    if duration is not None and requirements.max_duration is not None and duration > requirements.max_duration:
        problems.append(
            f"Duration too long under {', '.join(requirements.rules)}: {format_duration(duration)} asked, at most "
            f"{format_duration(requirements.max_duration)}."
        )
    return problems


# --- approving -----------------------------------------------------------------------------------------------------


class ApprovalVerdict(Verdict):
    """Whether an approval counts, and whether with it the request has every approval it needs."""

    complete: bool = False


def may_approve(
    *, request: RequestFacts, approver: Approver, eligible: dict[str, frozenset[str] | None], mailboxes: Mailboxes
) -> Verdict:
    """Whether `approver` is someone who may approve `request` at all (not themselves, an approver everywhere).

    `eligible` maps each platform of the request to the Slack user ids allowed to approve it (user groups already
    expanded), or None when the platform names no approvers, in which case workspace admins and owners may.
    A request spanning several platforms needs an approver eligible on every one of them.
    """
    return approval_verdict(
        request=request, requirements=Requirements(), approver=approver, eligible=eligible, mailboxes=mailboxes
    )


def approval_verdict(
    *,
    request: RequestFacts,
    requirements: Requirements,
    approver: Approver,
    eligible: dict[str, frozenset[str] | None],
    mailboxes: Mailboxes,
    prior: Sequence[str] = (),
    required_members: Sequence[frozenset[str]] = (),
) -> ApprovalVerdict:
    """Whether this approval counts, given who approved before (`prior`) and the members of each
    `requirements.require_one_of` set (`required_members`, in the same order, groups expanded)."""
    if not requirements.allow_self_approval:
        if approver.slack_id == request.requester_id:
            return ApprovalVerdict(
                allowed=False, reason="You asked for this access, so someone else has to approve it."
            )
        if approver.slack_id == request.target_slack_id or mailboxes.same(approver.email, request.target_email):
            return ApprovalVerdict(
                allowed=False, reason="This request changes your own access, so someone else has to approve it."
            )
    if approver.slack_id in prior:
        return ApprovalVerdict(
            allowed=False,
            reason=f"You have approved this already; it needs {requirements.approvals - len(prior)} more, "
            "from someone else.",
        )
    for platform in request.platforms:
        allowed = eligible.get(platform)
        if allowed is None:
            if not approver.is_workspace_admin:
                return ApprovalVerdict(
                    allowed=False,
                    reason=f"No approvers are configured for {platform}, so only Slack workspace admins may approve. "
                    f"Ask an admin, or set `platforms.{platform}.approvers` in the config.",
                )
        elif approver.slack_id not in allowed:
            return ApprovalVerdict(allowed=False, reason=f"You are not an approver for {platform}.")
    approvals = [*prior, approver.slack_id]
    unmet = [index for index, members in enumerate(required_members) if not members.intersection(approvals)]
    if len(approvals) >= requirements.approvals and unmet:
        # The last approval must meet what is still missing; otherwise the count would be reached without it.
        needed = ", ".join(" or ".join(requirements.require_one_of[index]) for index in unmet)
        return ApprovalVerdict(allowed=False, reason=f"The last approval must come from {needed}.")
    return ApprovalVerdict(allowed=True, complete=len(approvals) >= requirements.approvals and not unmet)


def may_do_manual_step(
    *,
    target_email: str,
    target_slack_id: str | None,
    doer: Approver,
    eligible: frozenset[str] | None,
    mailboxes: Mailboxes,
) -> Verdict:
    """Who may say a manual step is done: an approver of its platform (an admin there), never the person whose
    access it changes. Unlike approving, the requester may do it: the decision was someone else's already."""
    if doer.slack_id == target_slack_id or mailboxes.same(doer.email, target_email):
        return Verdict.refuse("This step changes your own access, so someone else has to do it.")
    return _platform_approver(doer, eligible, doing="mark this done")


def may_review(*, target_email: str, doer: Approver, eligible: frozenset[str] | None, mailboxes: Mailboxes) -> Verdict:
    """Who may keep or remove someone's access in an access review: the platform's approvers, never about
    themselves (keeping your own access is not a review)."""
    if mailboxes.same(doer.email, target_email):
        return Verdict.refuse("This row is your own access, so another approver has to decide it.")
    return _platform_approver(doer, eligible, doing="decide review rows")


def _platform_approver(doer: Approver, eligible: frozenset[str] | None, *, doing: str) -> Verdict:
    """One of the platform's approvers; workspace admins where the platform names none."""
    if eligible is None:
        if doer.is_workspace_admin:
            return Verdict.allow()
        return Verdict.refuse(f"Only the platform's approvers (or Slack workspace admins) can {doing}.")
    if doer.slack_id not in eligible:
        return Verdict.refuse(f"Only the platform's approvers can {doing}.")
    return Verdict.allow()


def group_ids(approvers: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(entry for entry in approvers if entry.startswith("S"))


# --- durations -----------------------------------------------------------------------------------------------------


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


# --- guard rails ---------------------------------------------------------------------------------------------------


class GuardResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def guard_rails(
    rails: GuardRails,
    *,
    platform: str,
    catalog: RoleCatalog,
    current: AccessState,
    desired: AccessState,
    org_admins: int | None,
) -> GuardResult:
    """The limits on organisation admins, and warnings for broad grants. `org_admins` is how many the platform has
    now (None when it could not be counted; the admin limits are then checked again right before apply)."""
    refusals: list[str] = []
    warnings: list[str] = []
    was_admin = current.member and catalog.is_admin(current.account_role)
    will_be_admin = desired.member and catalog.is_admin(desired.account_role)
    if org_admins is not None:
        if will_be_admin and not was_admin and org_admins >= rails.max_org_admins:
            refusals.append(
                f"{platform} already has {org_admins} organisation admins, the most allowed "
                f"({rails.max_org_admins}). Give a project role instead, or remove an admin first."
            )
        if was_admin and not will_be_admin and org_admins - 1 < rails.min_admins:
            refusals.append(
                f"{platform} would be left with {org_admins - 1} organisation admin(s); at least {rails.min_admins} "
                "must remain. Make someone else an admin first."
            )
    projects = [scope.name for scope in catalog.scopes if scope.kind == "project"]
    gained = {scope for scope, role in desired.scopes.items() if current.scopes.get(scope) != role}
    if len(projects) > 1 and gained and set(projects) <= set(desired.scopes):
        warnings.append(
            f"This gives access to every project on {platform}; the guidance is to grant only the "
            "projects the work needs."
        )
    for scope in sorted(gained):
        spec = catalog.scope(scope)
        if spec is not None and _key_in(scope, rails.sensitive_scopes) and desired.scopes[scope] == spec.roles[0]:
            warnings.append(
                f"{spec.roles[0]} on {scope}: full control of a sensitive {spec.kind}; consider "
                f"{spec.roles[1] if len(spec.roles) > 1 else 'a lower role'} there, or a time limit."
            )
    return GuardResult(refusals=tuple(refusals), warnings=tuple(warnings))


def needs_admin_count(catalog: RoleCatalog, current: AccessState, desired: AccessState) -> bool:
    """Whether the admin guard rails apply, so that admins need counting (an expensive platform call)."""
    was_admin = current.member and catalog.is_admin(current.account_role)
    will_be_admin = desired.member and catalog.is_admin(desired.account_role)
    return was_admin != will_be_admin


# --- break-glass and expiry ----------------------------------------------------------------------------------------


def break_glass_verdict(
    rails: BreakGlass, *, member: bool, uses_last_day: int, duration: timedelta | None, reason: str
) -> Verdict:
    """Whether someone may take this access now, without an approver."""
    if not rails.members:
        return Verdict.refuse("Break-glass is not set up; ask an approver, or set policy.break_glass.members.")
    if not member:
        return Verdict.refuse("You are not in the break-glass group; ask an approver instead.")
    if duration is None:
        return Verdict.refuse(
            f"Break-glass access must be time-boxed: add `for <duration>` (at most "
            f"{format_duration(rails.max_duration)})."
        )
    if duration > rails.max_duration:
        return Verdict.refuse(f"Break-glass access lasts at most {format_duration(rails.max_duration)}.")
    if len(reason.split()) < 3:
        return Verdict.refuse("Say what the emergency is: a break-glass reason needs a few words (an incident id).")
    if uses_last_day >= rails.per_person_per_day:
        return Verdict.refuse(
            f"You have used break-glass {uses_last_day} time(s) in the last 24 hours, the most allowed; ask an "
            "approver instead."
        )
    return Verdict.allow()


def pending_deadlines(
    policy: PolicyConfig, created_at: datetime, *, verb: str = "add"
) -> tuple[datetime, datetime | None]:
    """When to remind the approvers of an undecided request, and when it expires: a removal never does, its approvers
    are chased from its deadline on instead."""
    if verb == "remove":
        return created_at + policy.removal_deadline, None
    expires = created_at + policy.pending_expiry
    return max(created_at, expires - policy.remind_before), expires


def slack_ids_named(policy: PolicyConfig, approvers: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Every Slack user and user group id the config names, with where it names each (for `policy check`)."""
    named: dict[str, list[str]] = {}

    def note(ids: tuple[str, ...], where: str) -> None:
        for slack_id in ids:
            named.setdefault(slack_id, []).append(where)

    for platform, ids in sorted(approvers.items()):
        note(ids, f"platforms.{platform}.approvers")
    if policy.security_group:
        note((policy.security_group,), "policy.security_group")
    for rule in policy.rules or ():
        note(rule.approvers, f"policy.rules[{rule.name}].approvers")
        note(rule.require_one_of, f"policy.rules[{rule.name}].require_one_of")
    note(policy.break_glass.members, "policy.break_glass.members")
    return named
