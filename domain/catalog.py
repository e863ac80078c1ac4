"""What roles and scopes a platform offers, and how people may spell them.

A platform has two layers of access, as the Heap and Chartbeat references describe: an account role (Heap's
Admin ... Read-Only, Chartbeat's Administrator/User) and per-scope roles (a Heap project or module, a Chartbeat site).
Role lists are ordered from most to least privileged, so "lowest role" and "is this an elevation" are questions
the catalog can answer without knowing the vendor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, model_validator

#: Role name used in `/access update ... none on <scope>` to take a scope away.
NO_ACCESS = "none"


def name_key(name: str) -> str:
    """Fold case and punctuation so `read-only`, `Read Only` and `READONLY` name the same role."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _find(name: str, candidates: Iterable[str]) -> str | None:
    key = name_key(name)
    return next((candidate for candidate in candidates if name_key(candidate) == key), None)


class ScopeSpec(BaseModel):
    """One thing access can be granted on: a project, a module, a site."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    roles: tuple[str, ...]

    def role(self, name: str) -> str | None:
        return _find(name, self.roles)


class RoleCatalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_roles: tuple[str, ...]
    default_account_role: str
    scopes: tuple[ScopeSpec, ...] = ()
    # The account roles that make someone an organisation admin (guard rails count them). None: the highest (Heap's
    # Admin, the sandbox's); empty: no role is an admin role (a generic service that has not said which is).
    admin_roles: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _default_is_a_role(self) -> RoleCatalog:
        if not self.account_roles:
            raise ValueError("a role catalog needs at least one account role")
        if self.account_role(self.default_account_role) is None:
            raise ValueError(
                f"default account role {self.default_account_role!r} is not one of {', '.join(self.account_roles)}"
            )
        return self

    def is_admin(self, role: str | None) -> bool:
        if role is None:
            return False
        admins = (self.highest_account_role,) if self.admin_roles is None else self.admin_roles
        return name_key(role) in {name_key(admin) for admin in admins}

    @property
    def lowest_account_role(self) -> str:
        return self.account_roles[-1]

    @property
    def highest_account_role(self) -> str:
        return self.account_roles[0]

    def account_role(self, name: str) -> str | None:
        """The canonical spelling of an account role, or None when the platform has no such role."""
        return _find(name, self.account_roles)

    def scope(self, name: str) -> ScopeSpec | None:
        key = name_key(name)
        return next((scope for scope in self.scopes if name_key(scope.name) == key), None)

    def account_rank(self, role: str | None) -> int:
        """Higher is more privileged; no role at all ranks below every role."""
        if role is None or (canonical := self.account_role(role)) is None:
            return -1
        return len(self.account_roles) - self.account_roles.index(canonical)

    def scope_rank(self, scope: str, role: str | None) -> int:
        spec = self.scope(scope)
        if role is None or spec is None or (canonical := spec.role(role)) is None:
            return -1
        return len(spec.roles) - spec.roles.index(canonical)

    def scope_kinds(self) -> dict[str, list[ScopeSpec]]:
        kinds: dict[str, list[ScopeSpec]] = {}
        for scope in self.scopes:
            kinds.setdefault(scope.kind, []).append(scope)
        return kinds
