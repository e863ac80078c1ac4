"""A platform that lives in the bot's own database, so the whole flow works without a vendor account.

It keeps the same contract as the real clients and behaves like a strict one: it refuses roles and scopes its
catalog does not have, and every `apply` is one transaction, so it is never left half-changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from domain.access import AccessState, diff
from domain.catalog import RoleCatalog
from domain.offboarding import GENERIC_CHECKLIST, Stage
from platforms.base import ApplyResult, MemberRecord, Platform, PlatformError, PlatformRefused
from storage.db import in_chunks, reading, session_scope
from storage.models import SandboxMember, SandboxScopeRole


class SandboxPlatform(Platform):
    reports_activity = True
    # A stand-in holds no dashboards or tokens to hand over: no steps before a removal, unless the config's
    # `removal_checklist` names some (to try the gate).
    removal_checklist = tuple(item for item in GENERIC_CHECKLIST if item.stage is Stage.AFTER)

    def __init__(
        self, name: str, catalog: RoleCatalog, *, engine: Engine, now: Callable[[], datetime], latency: float = 0.0
    ) -> None:
        super().__init__(name, catalog)
        self._engine = engine
        self._now = now
        self.latency = latency

    @property
    def chunk(self) -> int | None:
        # Without latency it answers from the bot's own database: a whole batch in one transaction.
        return super().chunk if self.latency else None

    def get_access(self, email: str) -> AccessState:
        with reading(self._engine) as session:
            return self._read(session, email.lower())

    def apply(self, email: str, desired: AccessState) -> ApplyResult:
        email = email.lower()
        self._check_known(desired)
        # A vendor's API takes its time: half before the change lands, half before the answer arrives.
        time.sleep(self.latency / 2)
        try:
            return self._write(email, desired)
        finally:
            time.sleep(self.latency / 2)

    def _write(self, email: str, desired: AccessState) -> ApplyResult:
        with session_scope(self._engine) as session:
            member = session.get(SandboxMember, (self.name, email))
            steps = diff(self._state(session, member), desired)
            if not steps:
                return ApplyResult(responses=("no change needed",))
            session.exec(
                delete(SandboxScopeRole).where(
                    col(SandboxScopeRole.platform) == self.name, col(SandboxScopeRole.email) == email
                )
            )
            if not desired.member:
                if member is not None:
                    session.delete(member)
                return ApplyResult(applied=tuple(steps), responses=(f"deleted {email}",))
            assert desired.account_role is not None
            if member is None:
                member = SandboxMember(
                    platform=self.name, email=email, account_role=desired.account_role, created_at=self._now()
                )
            member.account_role = desired.account_role
            session.add(member)
            for scope, role in desired.scopes.items():
                session.add(SandboxScopeRole(platform=self.name, email=email, scope=scope, role=role))
            return ApplyResult(applied=tuple(steps), responses=tuple(step.describe() for step in steps))

    def read_many(self, emails: Sequence[str]) -> dict[str, AccessState | PlatformError]:
        wanted = [email.lower() for email in emails]
        with reading(self._engine) as session:
            found = self._read_many(session, wanted)
        return {email: found[email.lower()] for email in emails}

    def apply_many(self, desired: Mapping[str, AccessState]) -> dict[str, ApplyResult | PlatformError]:
        if self.latency:
            # A vendor's API takes one call per member: as many at once as the bulkhead lets through.
            return super().apply_many(desired)
        results: dict[str, ApplyResult | PlatformError] = {}
        valid: dict[str, AccessState] = {}
        for email, state in desired.items():
            try:
                self._check_known(state)
            except PlatformError as error:
                results[email] = error
                continue
            valid[email.lower()] = state
        if not valid:
            return results
        with session_scope(self._engine) as session:
            current = self._read_many(session, list(valid))
            changed = {email: state for email, state in valid.items() if diff(current[email], state)}
            for email in valid.keys() - changed.keys():
                results[email] = ApplyResult(responses=("no change needed",))
            for chunk in in_chunks(list(changed)):
                session.exec(
                    delete(SandboxScopeRole).where(
                        col(SandboxScopeRole.platform) == self.name, col(SandboxScopeRole.email).in_(chunk)
                    )
                )
                session.exec(
                    delete(SandboxMember).where(
                        col(SandboxMember.platform) == self.name,
                        col(SandboxMember.email).in_([email for email in chunk if not changed[email].member]),
                    )
                )
            now = self._now()
            roles: list[dict[str, str]] = []
            added: list[dict[str, object]] = []
            held: list[dict[str, str]] = []
            for email, state in changed.items():
                steps = diff(current[email], state)
                if not state.member:
                    results[email] = ApplyResult(applied=tuple(steps), responses=(f"deleted {email}",))
                    continue
                assert state.account_role is not None
                if current[email].member:
                    roles.append({"who": email, "role": state.account_role})
                else:
                    added.append(
                        {"platform": self.name, "email": email, "account_role": state.account_role, "created_at": now}
                    )
                held += (
                    {"platform": self.name, "email": email, "scope": scope, "role": role}
                    for scope, role in state.scopes.items()
                )
                results[email] = ApplyResult(applied=tuple(steps), responses=tuple(step.describe() for step in steps))
            connection = session.connection()
            if added:
                connection.execute(insert(SandboxMember), added)
            if held:
                connection.execute(insert(SandboxScopeRole), held)
            if roles:
                connection.execute(
                    update(SandboxMember)
                    .where(col(SandboxMember.platform) == self.name, col(SandboxMember.email) == bindparam("who"))
                    .values(account_role=bindparam("role")),
                    roles,
                )
        return {email: results[email] if email in results else results[email.lower()] for email in desired}

    def _read_many(self, session: Session, emails: list[str]) -> dict[str, AccessState]:
        roles: dict[str, str] = {}
        scopes: dict[str, dict[str, str]] = {}
        for chunk in in_chunks(emails):
            # Columns, not rows: many members are read at once, and nothing here changes them.
            members = select(SandboxMember.email, SandboxMember.account_role).where(
                SandboxMember.platform == self.name, col(SandboxMember.email).in_(chunk)
            )
            roles.update(session.exec(members).all())
            held = select(SandboxScopeRole.email, SandboxScopeRole.scope, SandboxScopeRole.role).where(
                SandboxScopeRole.platform == self.name, col(SandboxScopeRole.email).in_(chunk)
            )
            for email, scope, role in session.exec(held):
                scopes.setdefault(email, {})[scope] = role
        return {
            email: AccessState(member=True, account_role=roles[email], scopes=scopes.get(email, {}))
            if email in roles
            else AccessState.absent()
            for email in emails
        }

    def list_members(self) -> list[MemberRecord]:
        with reading(self._engine) as session:
            members = session.exec(
                select(SandboxMember).where(SandboxMember.platform == self.name).order_by(col(SandboxMember.email))
            ).all()
            return [
                MemberRecord(
                    email=member.email, access=self._read(session, member.email), last_active=member.last_active
                )
                for member in members
            ]

    def record_activity(self, email: str, at: datetime) -> None:
        """Note that the member used the platform at `at` (what a real platform's "last active" reports)."""
        with session_scope(self._engine) as session:
            member = session.get(SandboxMember, (self.name, email.lower()))
            if member is None:
                raise PlatformRefused(self.name, f"{email} is not a member")
            member.last_active = at
            session.add(member)

    def _read(self, session: Session, email: str) -> AccessState:
        return self._state(session, session.get(SandboxMember, (self.name, email)))

    def _state(self, session: Session, member: SandboxMember | None) -> AccessState:
        if member is None:
            return AccessState.absent()
        email = member.email
        rows = session.exec(
            select(SandboxScopeRole).where(SandboxScopeRole.platform == self.name, SandboxScopeRole.email == email)
        ).all()
        return AccessState(member=True, account_role=member.account_role, scopes={row.scope: row.role for row in rows})

    def _check_known(self, desired: AccessState) -> None:
        if not desired.member:
            return
        if desired.account_role is None or self.catalog.account_role(desired.account_role) != desired.account_role:
            raise PlatformRefused(self.name, f"unknown account role {desired.account_role!r}")
        for scope, role in desired.scopes.items():
            spec = self.catalog.scope(scope)
            if spec is None or spec.name != scope:
                raise PlatformRefused(self.name, f"unknown scope {scope!r}")
            if spec.role(role) != role:
                raise PlatformRefused(self.name, f"{role!r} is not a role on {scope}")
