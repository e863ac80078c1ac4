"""Temporary elevations: what each one holds, and what reverting it should do. Pure.

An elevation tracks the fields of someone's access that its request asked for: `member`, `account_role` and
`scope:<name>`, each with the value before (the revert target) and the value it set. Several elevations of one person
on one platform stack: a newer one touching a field an active one already holds inherits that one's `before`, so the
baseline is never lost. When one ends, each field it holds goes back to the value of the newest other active
elevation holding it, or else to the baseline; and a field whose current value is not what the bot set (someone
changed it by hand: drift) is left as it is and reported, never clobbered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.access import AccessChange, AccessState


class ElevationStatus(StrEnum):
    ACTIVE = "active"  # holding access until it expires
    REVERTING = "reverting"  # claimed by a worker that is reverting it now
    REVERTED = "reverted"  # ended: access restored (or kept where it had drifted)
    SUPERSEDED = "superseded"  # ended by a later change the bot made (a removal, or a permanent grant of its fields)


#: Elevations that still hold access and take part in stacking.
LIVE_STATUSES = frozenset({ElevationStatus.ACTIVE, ElevationStatus.REVERTING})

MEMBER = "member"
ACCOUNT_ROLE = "account_role"
SCOPE_PREFIX = "scope:"

#: A field's value: membership, a role, or None for "no role / no access".
Value = bool | str | None


class TrackedField(BaseModel):
    model_config = ConfigDict(frozen=True)

    before: Value
    elevated: Value


class Layer(BaseModel):
    """One active elevation, as the revert logic sees it."""

    model_config = ConfigDict(frozen=True)

    id: int
    applied_at: datetime
    fields: dict[str, TrackedField] = Field(default_factory=dict)


class RevertPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    desired: AccessState
    reverted: dict[str, tuple[Value, Value]] = Field(default_factory=dict)  # field -> (from, to)
    kept_for: dict[str, int] = Field(default_factory=dict)  # field -> the other elevation still holding it
    drift: dict[str, tuple[Value, Value]] = Field(default_factory=dict)  # field -> (expected, found)

    @property
    def changes_anything(self) -> bool:
        return bool(self.reverted)


def field_values(state: AccessState) -> dict[str, Value]:
    values: dict[str, Value] = {MEMBER: state.member, ACCOUNT_ROLE: state.account_role if state.member else None}
    for scope, role in state.scopes.items():
        values[SCOPE_PREFIX + scope] = role if state.member else None
    return values


def value_of(state: AccessState, field: str) -> Value:
    return field_values(state).get(field)


def with_values(state: AccessState, values: Mapping[str, Value]) -> AccessState:
    member = bool(values.get(MEMBER, state.member))
    if not member:
        return AccessState.absent()
    account_role = values.get(ACCOUNT_ROLE, state.account_role)
    scopes = dict(state.scopes)
    for field, value in values.items():
        if field.startswith(SCOPE_PREFIX):
            scope = field.removeprefix(SCOPE_PREFIX)
            if value is None:
                scopes.pop(scope, None)
            else:
                scopes[scope] = str(value)
    return AccessState(member=True, account_role=str(account_role) if account_role else None, scopes=scopes)


def asked_fields(change: AccessChange, before: AccessState) -> set[str]:
    """The fields a grant asked for; joining a platform counts, since reverting then means leaving it."""
    fields = {SCOPE_PREFIX + scope for scope in change.scopes}
    if change.account_role is not None:
        fields.add(ACCOUNT_ROLE)
    if not before.member:
        fields |= {MEMBER, ACCOUNT_ROLE}
    return fields


def track(
    *, asked: Iterable[str], before: AccessState, elevated: AccessState, active: Sequence[Layer]
) -> dict[str, TrackedField]:
    """What a new elevation holds: per field, the baseline to return to and the value it set."""
    held = set(asked)
    if any(MEMBER in layer.fields for layer in active):
        # Another active elevation made them a member; this one's access depends on that membership too.
        held |= {MEMBER, ACCOUNT_ROLE}
    tracked: dict[str, TrackedField] = {}
    for field in sorted(held):
        holders = [layer for layer in active if field in layer.fields]
        # The oldest active holder knows the value from before any of the stacked elevations.
        baseline = min(holders, key=lambda layer: layer.applied_at).fields[field].before if holders else None
        tracked[field] = TrackedField(
            before=baseline if holders else value_of(before, field), elevated=value_of(elevated, field)
        )
    return tracked


def released(layer: Layer, fields: Iterable[str]) -> Layer:
    """The layer without `fields`: a permanent change the bot applied now owns them, so they are not reverted."""
    gone = set(fields)
    return layer.model_copy(update={"fields": {f: v for f, v in layer.fields.items() if f not in gone}})


def changed_fields(before: AccessState, after: AccessState) -> set[str]:
    old, new = field_values(before), field_values(after)
    return {field for field in old.keys() | new.keys() if old.get(field) != new.get(field)}


def revert_plan(*, current: AccessState, ending: Layer, others: Sequence[Layer]) -> RevertPlan:
    """What ending `ending` should change, given the access now and the other active elevations."""
    now_values = field_values(current)
    targets: dict[str, Value] = {}
    reverted: dict[str, tuple[Value, Value]] = {}
    kept_for: dict[str, int] = {}
    drift: dict[str, tuple[Value, Value]] = {}
    for field, tracked in ending.fields.items():
        holders = sorted((layer for layer in others if field in layer.fields), key=lambda layer: layer.applied_at)
        newer = [layer for layer in holders if layer.applied_at > ending.applied_at]
        expected = newer[-1].fields[field].elevated if newer else tracked.elevated
        found = now_values.get(field)
        if found != expected:
            drift[field] = (expected, found)
            continue
        target = holders[-1].fields[field].elevated if holders else tracked.before
        if holders:
            kept_for[field] = holders[-1].id
        if target != found:
            targets[field] = target
            reverted[field] = (found, target)
    desired = with_values(current, targets)
    if current.member and not desired.member:
        desired, reverted, drift = _keep_membership(current, targets, reverted, drift, ending)
    return RevertPlan(desired=desired, reverted=reverted, kept_for=kept_for, drift=drift)


def _keep_membership(
    current: AccessState,
    targets: dict[str, Value],
    reverted: dict[str, tuple[Value, Value]],
    drift: dict[str, tuple[Value, Value]],
    ending: Layer,
) -> tuple[AccessState, dict[str, tuple[Value, Value]], dict[str, tuple[Value, Value]]]:
    """Leaving the platform would also take access the elevation never gave; keep the member, revert its fields."""
    untracked = {
        field: value
        for field, value in field_values(current).items()
        if field not in ending.fields and field.startswith(SCOPE_PREFIX) and value is not None
    }
    if not untracked:
        return with_values(current, targets), reverted, drift
    kept = {field: value for field, value in targets.items() if field not in (MEMBER, ACCOUNT_ROLE)}
    reverted = {field: change for field, change in reverted.items() if field in kept}
    drift = {**drift, **{field: (None, value) for field, value in untracked.items()}}
    return with_values(current, kept), reverted, drift


def reminder_times(*, expires_at: datetime, offsets: Iterable[timedelta], now: datetime) -> list[datetime]:
    """When to remind before `expires_at`: each offset before it, skipping those already past."""
    return sorted({expires_at - offset for offset in offsets if expires_at - offset > now})


def describe_field(field: str) -> str:
    if field == MEMBER:
        return "membership"
    if field == ACCOUNT_ROLE:
        return "account role"
    return field.removeprefix(SCOPE_PREFIX)


def describe_value(value: Value) -> str:
    if value is True:
        return "member"
    if value is False:
        return "not a member"
    return value or "no access"


def describe_changes(changes: Mapping[str, tuple[Value, Value]]) -> str:
    left = changes.get(MEMBER) == (True, False)
    if left:
        # Leaving the platform takes everything with it; say what they had rather than each field going to nothing.
        had = [
            describe_value(old) if field == ACCOUNT_ROLE else f"{describe_field(field)}: {describe_value(old)}"
            for field, (old, _) in sorted(changes.items())
            if field != MEMBER and old is not None
        ]
        return "removed from the platform" + (f" (had {', '.join(had)})" if had else "")
    return "; ".join(
        f"{describe_field(field)}: {describe_value(old)} → {describe_value(new)}"
        for field, (old, new) in sorted(changes.items())
    )
