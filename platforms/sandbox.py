"""A platform that lives in the bot's own database, so the whole flow works without a vendor account.

It keeps the same contract as the real clients and behaves like a strict one: it refuses roles and scopes its
catalog does not have, and every `apply` is one transaction, so it is never left half-changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from domain.access import AccessState, diff
from domain.catalog import RoleCatalog
from platforms.base import ApplyResult, MemberRecord, Platform, PlatformRefused
from storage.db import session_scope
from storage.models import SandboxMember, SandboxScopeRole


class SandboxPlatform(Platform):
    reports_activity = True

    def __init__(
        self, name: str, catalog: RoleCatalog, *, engine: Engine, now: Callable[[], datetime], latency: float = 0.0
    ) -> None:
        super().__init__(name, catalog)
        self._engine = engine
        self._now = now
        self.latency = latency

    def get_access(self, email: str) -> AccessState:
        with Session(self._engine) as session:
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
            current = self._read(session, email)
            steps = diff(current, desired)
            if not steps:
                return ApplyResult(responses=("no change needed",))
            session.exec(
                delete(SandboxScopeRole).where(
                    col(SandboxScopeRole.platform) == self.name, col(SandboxScopeRole.email) == email
                )
            )
            member = session.get(SandboxMember, (self.name, email))
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

    def list_members(self) -> list[MemberRecord]:
        with Session(self._engine) as session:
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
        member = session.get(SandboxMember, (self.name, email))
        if member is None:
            return AccessState.absent()
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
