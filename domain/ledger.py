"""The grant ledger's rules, pure: what a grant covers, and what a person should hold on a platform.

A person's access on one platform has *parts*: `member`, `account_role`, and `scope:<name>` for each project, module
or site. Every change the bot makes for a request is a *grant*: the parts it sets, their values, when it started,
when it ends (or never), and its state. The *baseline* is what the account had before the bot first changed it, or
what it was last found to be after a change made outside the bot (drift), or what a removal left.

What the person should hold is a function of the baseline and the live grants alone (`desired`), and these rules
decide it (the README's "Temporary access" section has the same table):

1. **Newest wins.** Each part is what the newest live grant covering it says; with no live grant covering it, what
   the baseline says. Grants are ordered by the sequence in which they were planned on the account.
2. **Membership follows need.** Anyone a live grant gives anything is a member. Membership nobody's account role
   explains (a scope granted to someone who joined through a grant that has ended) comes with the platform's default
   account role.
3. **A later permanent grant takes over.** When a permanent grant becomes active, every older grant stops covering
   the parts it sets (an older grant left with nothing is superseded). A newer *temporary* grant only stacks: when it
   ends, each of its parts goes back to the older grant's value, or the baseline's.
4. **An ending grant takes away only itself.** Ending a grant removes it from the live set; `desired` then gives each
   of its parts to the next newest live grant, or the baseline. Nothing another grant or the baseline explains moves.
5. **Drift is left as found.** A part the platform reports with a value the bot neither last verified nor was
   applying was changed outside the bot: it is adopted into the baseline as found, every grant stops covering it,
   and it is flagged to the approvers.
6. **A removal resets.** It ends every grant of that person on that platform, and what it leaves (nothing, or the
   lowest role with no scopes) becomes the baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.access import AccessChange, AccessState
from domain.catalog import RoleCatalog

MEMBER = "member"
ACCOUNT_ROLE = "account_role"
SCOPE_PREFIX = "scope:"

#: A part's value: membership, a role, or None for "no role / no access".
Value = bool | str | None
Parts = dict[str, Value]


class GrantState(StrEnum):
    APPLYING = "applying"  # planned: part of the desired state while the platform is changed (or manual steps wait)
    ACTIVE = "active"  # applied and verified on the platform
    ENDING = "ending"  # ended (expired, revoked, superseded, removed): no longer desired; the platform not yet verified
    ENDED = "ended"  # ended, and the platform verified without it
    FAILED = "failed"  # its apply failed: not desired; the request can be retried


#: Grants that count in the desired state.
LIVE = frozenset({GrantState.APPLYING, GrantState.ACTIVE})


class EndReason(StrEnum):
    EXPIRED = "expired"
    REVOKED = "revoked"  # ended early by a person
    SUPERSEDED = "superseded"  # a later permanent grant took over every part it covered
    REMOVED = "removed"  # a removal ended every grant of the person on the platform
    DRIFT = "drift"  # changes outside the bot took over every part it covered


class Layer(BaseModel):
    """A live grant, as the desired state sees it."""

    model_config = ConfigDict(frozen=True)

    id: int
    seq: int
    parts: Parts = Field(default_factory=dict)
    permanent: bool = False


# --- parts of an access state ---------------------------------------------------------------------------------------


def parts_of(state: AccessState) -> Parts:
    """The access as parts; a non-member has only `member: False`."""
    if not state.member:
        return {MEMBER: False}
    parts: Parts = {MEMBER: True, ACCOUNT_ROLE: state.account_role}
    parts.update({SCOPE_PREFIX + scope: role for scope, role in state.scopes.items()})
    return parts


def state_of(parts: Mapping[str, Value], *, default_account_role: str | None = None) -> AccessState:
    """The access these parts describe. Any role or scope makes a member; a member whose account role nothing sets
    gets `default_account_role`."""
    holds = any(value is not None for part, value in parts.items() if part != MEMBER)
    if not (parts.get(MEMBER) or holds):
        return AccessState.absent()
    role = parts.get(ACCOUNT_ROLE)
    scopes = {
        part.removeprefix(SCOPE_PREFIX): str(value)
        for part, value in parts.items()
        if part.startswith(SCOPE_PREFIX) and value is not None
    }
    return AccessState(member=True, account_role=str(role) if role else default_account_role, scopes=scopes)


def value_of(state: AccessState, part: str) -> Value:
    return parts_of(state).get(part, False if part == MEMBER else None)


def changed_parts(before: AccessState, after: AccessState) -> dict[str, tuple[Value, Value]]:
    old, new = parts_of(before), parts_of(after)
    return {
        part: (old.get(part), new.get(part))
        for part in sorted(old.keys() | new.keys())
        if _norm(part, old.get(part)) != _norm(part, new.get(part))
    }


def _norm(part: str, value: Value) -> Value:
    return bool(value) if part == MEMBER else value


# --- what a grant covers, and what should be -----------------------------------------------------------------------


def covered(change: AccessChange, current: AccessState, catalog: RoleCatalog) -> Parts:
    """The parts a grant sets, given the access it is planned over: what it asks for, and when it makes someone a
    member, the membership and the account role they join with."""
    parts: Parts = {}
    if not current.member:
        parts[MEMBER] = True
        parts[ACCOUNT_ROLE] = change.account_role or catalog.default_account_role
    elif change.account_role is not None:
        parts[ACCOUNT_ROLE] = change.account_role
    for scope, role in change.scopes.items():
        parts[SCOPE_PREFIX + scope] = role
    return parts


def desired(baseline: AccessState, grants: Iterable[Layer], *, default_account_role: str | None) -> AccessState:
    """What the person should hold: the baseline, overlaid by every live grant from oldest to newest (rules 1-2)."""
    layers = sorted(grants, key=lambda layer: layer.seq)
    values = parts_of(baseline)
    for layer in layers:
        values.update(layer.parts)
    if any(layer.parts for layer in layers):
        values[MEMBER] = True
    elif not baseline.member:
        # Nothing live and no membership to keep: any value left over is an ended grant's, never the person's.
        return AccessState.absent()
    return state_of(values, default_account_role=default_account_role)


def taken_over(layers: Sequence[Layer], newcomer: Layer) -> dict[int, Parts]:
    """Rule 3: what each older grant still covers once `newcomer` is active; only those that change are returned.
    A temporary newcomer stacks and takes nothing."""
    if not newcomer.permanent:
        return {}
    result: dict[int, Parts] = {}
    for layer in layers:
        if layer.id == newcomer.id or layer.seq > newcomer.seq:
            continue
        remaining = {part: value for part, value in layer.parts.items() if part not in newcomer.parts}
        if remaining != layer.parts:
            result[layer.id] = remaining
    return result


def released(layers: Sequence[Layer], parts: Iterable[str]) -> dict[int, Parts]:
    """What each grant still covers once `parts` are no longer any grant's (drift took them); only those that change."""
    gone = set(parts)
    result: dict[int, Parts] = {}
    for layer in layers:
        remaining = {part: value for part, value in layer.parts.items() if part not in gone}
        if remaining != layer.parts:
            result[layer.id] = remaining
    return result


# --- drift ----------------------------------------------------------------------------------------------------------


def drift(
    actual: AccessState, expected: AccessState, planned: Sequence[AccessState] = ()
) -> dict[str, tuple[Value, Value]]:
    """Parts the platform reports with a value the bot neither last verified (`expected`) nor was applying
    (`planned`, unverified plans since): part -> (expected, found)."""
    found, wanted = parts_of(actual), parts_of(expected)
    plans = [parts_of(plan) for plan in planned]
    drifted: dict[str, tuple[Value, Value]] = {}
    for part in sorted(found.keys() | wanted.keys() | {p for plan in plans for p in plan}):
        value = _norm(part, found.get(part))
        if value == _norm(part, wanted.get(part)) or any(value == _norm(part, plan.get(part)) for plan in plans):
            continue
        if part != MEMBER and not actual.member and not expected.member:
            continue
        drifted[part] = (wanted.get(part), found.get(part))
    if MEMBER in drifted and not actual.member:
        # Someone removed the member: one fact, not one per part they had.
        return {MEMBER: drifted[MEMBER]}
    return drifted


def adopt(baseline: AccessState, drifted: Mapping[str, tuple[Value, Value]]) -> AccessState:
    """Rule 5: the baseline with each drifted part as found."""
    if drifted.get(MEMBER, (None, None))[1] is False:
        return AccessState.absent()
    values = parts_of(baseline)
    values.update({part: found for part, (_, found) in drifted.items()})
    # A scope added by hand to someone who was no member before the bot: the baseline keeps the membership it needs,
    # with no account role of its own (the default applies).
    return state_of(values)


def unexplained(
    actual: AccessState, baseline: AccessState, grants: Iterable[Layer], *, default_account_role: str | None
) -> dict[str, tuple[Value, Value]]:
    """Parts of the account neither the baseline nor a live grant explains: part -> (explained, found)."""
    return changed_parts(desired(baseline, grants, default_account_role=default_account_role), actual)


# --- ends and reminders -------------------------------------------------------------------------------------------


def reminder_times(*, ends_at: datetime, offsets: Iterable[timedelta], now: datetime) -> list[datetime]:
    """When to remind before `ends_at`: each offset before it, skipping those already past."""
    return sorted({ends_at - offset for offset in offsets if ends_at - offset > now})


# --- words ----------------------------------------------------------------------------------------------------------


def describe_part(part: str) -> str:
    if part == MEMBER:
        return "membership"
    if part == ACCOUNT_ROLE:
        return "account role"
    return part.removeprefix(SCOPE_PREFIX)


def describe_value(value: Value) -> str:
    if value is True:
        return "member"
    if value is False:
        return "not a member"
    return value or "no access"


def describe_parts(parts: Mapping[str, Value]) -> str:
    """What a grant covers, for people: `joined as Consumer, staging: Viewer`."""
    words = []
    if parts.get(MEMBER):
        words.append(f"joined as {describe_value(parts.get(ACCOUNT_ROLE))}")
    elif ACCOUNT_ROLE in parts:
        words.append(f"account role {describe_value(parts[ACCOUNT_ROLE])}")
    words += [
        f"{describe_part(part)}: {describe_value(value)}"
        for part, value in sorted(parts.items())
        if part.startswith(SCOPE_PREFIX)
    ]
    return ", ".join(words) or "nothing any more"


def describe_changes(changes: Mapping[str, tuple[Value, Value]]) -> str:
    changes = {
        part: pair for part, pair in changes.items() if pair[0] != pair[1]
    }  # "Read-Only → Read-Only" says nothing
    if not changes:
        return "no change"
    left = changes.get(MEMBER, (None, None))[1] is False
    if left:
        # Leaving the platform takes everything with it; say what they had rather than each part going to nothing.
        had = [
            describe_value(old) if part == ACCOUNT_ROLE else f"{describe_part(part)}: {describe_value(old)}"
            for part, (old, _) in sorted(changes.items())
            if part != MEMBER and old is not None
        ]
        return "removed from the platform" + (f" (had {', '.join(had)})" if had else "")
    return "; ".join(
        f"{describe_part(part)}: {describe_value(old)} → {describe_value(new)}"
        for part, (old, new) in sorted(changes.items())
    )
