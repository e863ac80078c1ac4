"""What a person can do on a platform, what a request changes, and the steps between two states.

Every platform client works on desired state: it is told the whole `AccessState` a member should end with, and makes
it so. A retry after a crash halfway through therefore converges instead of applying a change twice.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.catalog import RoleCatalog


class AccessState(BaseModel):
    """One person's access on one platform at one moment."""

    model_config = ConfigDict(frozen=True)

    member: bool = False
    account_role: str | None = None
    scopes: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def absent(cls) -> AccessState:
        return cls()

    def describe(self) -> str:
        if not self.member:
            return "not a member"
        parts = [self.account_role or "no account role"]
        if self.scopes:
            parts.append(", ".join(f"{scope}: {role}" for scope, role in sorted(self.scopes.items())))
        else:
            parts.append("no projects or sites")
        return "; ".join(parts)


class RemovalMethod(StrEnum):
    """The two removal options of the Heap and Chartbeat procedures."""

    DELETE = "delete"  # the member is gone; restoring needs a new invitation
    REVOKE = "revoke"  # lowest role, no scopes, the account is kept and can be restored


class AccessChange(BaseModel):
    """The part of someone's access a grant sets; everything it does not name stays as it is."""

    model_config = ConfigDict(frozen=True)

    account_role: str | None = None
    # scope -> role; None takes the scope away.
    scopes: dict[str, str | None] = Field(default_factory=dict)

    def desired_from(self, current: AccessState, catalog: RoleCatalog) -> AccessState:
        account_role = self.account_role or current.account_role or catalog.default_account_role
        scopes = dict(current.scopes)
        for scope, role in self.scopes.items():
            if role is None:
                scopes.pop(scope, None)
            else:
                scopes[scope] = role
        return AccessState(member=True, account_role=account_role, scopes=scopes)

    def describe(self) -> str:
        parts = []
        if self.account_role:
            parts.append(f"account role {self.account_role}")
        for scope, role in sorted(self.scopes.items()):
            parts.append(f"{scope}: {role}" if role else f"no access to {scope}")
        return ", ".join(parts) or "no change"


def removed_state(method: RemovalMethod, current: AccessState, catalog: RoleCatalog) -> AccessState:
    if method is RemovalMethod.DELETE or not current.member:
        return AccessState.absent()
    return AccessState(member=True, account_role=catalog.lowest_account_role, scopes={})


class StepKind(StrEnum):
    CREATE_MEMBER = "create_member"
    DELETE_MEMBER = "delete_member"
    SET_ACCOUNT_ROLE = "set_account_role"
    SET_SCOPE_ROLE = "set_scope_role"
    REMOVE_SCOPE = "remove_scope"


class AccessStep(BaseModel):
    """One change a platform has to make; `manual` when no API can make it and an admin must."""

    model_config = ConfigDict(frozen=True)

    kind: StepKind
    scope: str | None = None
    before: str | None = None
    after: str | None = None
    manual: bool = False
    # For a manual step: what the admin has to do, where to click and what to set.
    instructions: str | None = None

    def describe(self) -> str:
        match self.kind:
            case StepKind.CREATE_MEMBER:
                text = f"invite as {self.after}"
            case StepKind.DELETE_MEMBER:
                text = "delete the member"
            case StepKind.SET_ACCOUNT_ROLE:
                text = f"account role {self.before} → {self.after}"
            case StepKind.SET_SCOPE_ROLE:
                text = f"{self.scope}: {self.before or 'no access'} → {self.after}"
            case StepKind.REMOVE_SCOPE:
                text = f"{self.scope}: {self.before} → no access"
        return f"{text} (manual)" if self.manual else text


def diff(current: AccessState, desired: AccessState) -> list[AccessStep]:
    """The steps that turn `current` into `desired`, in the order a platform should take them."""
    if not desired.member:
        return [AccessStep(kind=StepKind.DELETE_MEMBER)] if current.member else []
    steps: list[AccessStep] = []
    if not current.member:
        steps.append(AccessStep(kind=StepKind.CREATE_MEMBER, after=desired.account_role))
    elif current.account_role != desired.account_role:
        steps.append(
            AccessStep(kind=StepKind.SET_ACCOUNT_ROLE, before=current.account_role, after=desired.account_role)
        )
    held = current.scopes if current.member else {}
    for scope in sorted(held.keys() - desired.scopes.keys()):
        steps.append(AccessStep(kind=StepKind.REMOVE_SCOPE, scope=scope, before=held[scope]))
    for scope, role in sorted(desired.scopes.items()):
        if held.get(scope) != role:
            steps.append(AccessStep(kind=StepKind.SET_SCOPE_ROLE, scope=scope, before=held.get(scope), after=role))
    return steps


def unexplained(actual: AccessState, desired: AccessState, manual: tuple[AccessStep, ...] = ()) -> list[AccessStep]:
    """What still differs that no admin was asked to do by hand: what verification must fail on."""
    asked = {(step.kind, step.scope) for step in manual}
    return [step for step in diff(actual, desired) if (step.kind, step.scope) not in asked]


def mismatches(actual: AccessState, desired: AccessState) -> list[str]:
    """What differs between what a platform reports and what was asked; empty when verified."""
    return [step.describe() for step in diff(actual, desired)]
