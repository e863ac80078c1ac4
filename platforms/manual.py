"""What admins recorded doing by hand on a platform that has no API for it: the bot's only source for those parts.

Kept in `manual_ledger`, one row per (platform, email, field): `membership`, `account_role`, or `scope:<name>`. A
client that returns manual steps from `apply` reports what is recorded here once an admin marks each step done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from domain.access import AccessState, AccessStep, StepKind
from domain.catalog import RoleCatalog
from platforms.base import PlatformRefused
from storage.db import session_scope
from storage.models import ManualLedger

MEMBERSHIP = "membership"
ACCOUNT_ROLE = "account_role"
SCOPE = "scope:"


class ManualRecords:
    def __init__(self, platform: str, engine: Engine, now: Callable[[], datetime]) -> None:
        self.platform = platform
        self._engine = engine
        self._now = now

    def state(self, email: str) -> AccessState:
        """The recorded account role and scopes of `email`, as a member (the caller knows whether they are one)."""
        values = self.fields(email)
        scopes = {field.removeprefix(SCOPE): value for field, value in values.items() if field.startswith(SCOPE)}
        return AccessState(member=True, account_role=values.get(ACCOUNT_ROLE), scopes=scopes)

    def fields(self, email: str) -> dict[str, str]:
        with Session(self._engine) as session:
            rows = session.exec(
                select(ManualLedger).where(ManualLedger.platform == self.platform, ManualLedger.email == email)
            ).all()
        return {row.field: row.value for row in rows}

    def emails(self) -> list[str]:
        """Everyone recorded as a member."""
        with Session(self._engine) as session:
            statement = select(ManualLedger.email).where(
                ManualLedger.platform == self.platform, ManualLedger.field == MEMBERSHIP
            )
            return sorted(session.exec(statement))

    def record(self, email: str, step: AccessStep, *, actor: str) -> None:
        """Keep what an admin did for one step."""
        with session_scope(self._engine) as session:
            if step.kind is StepKind.CREATE_MEMBER:
                self._remember(session, email, MEMBERSHIP, "member", actor)
                if step.after:
                    self._remember(session, email, ACCOUNT_ROLE, step.after, actor)
            elif step.kind is StepKind.DELETE_MEMBER:
                self._forget(session, email)
            elif step.kind is StepKind.SET_ACCOUNT_ROLE and step.after:
                self._remember(session, email, ACCOUNT_ROLE, step.after, actor)
            elif step.kind is StepKind.SET_SCOPE_ROLE and step.scope and step.after:
                self._remember(session, email, SCOPE + step.scope, step.after, actor)
            elif step.kind is StepKind.REMOVE_SCOPE and step.scope:
                session.exec(
                    delete(ManualLedger).where(
                        col(ManualLedger.platform) == self.platform,
                        col(ManualLedger.email) == email,
                        col(ManualLedger.field) == SCOPE + step.scope,
                    )
                )
            else:
                raise PlatformRefused(self.platform, f"cannot record {step.describe()!r} as done by hand")

    def forget(self, email: str) -> None:
        with session_scope(self._engine) as session:
            self._forget(session, email)

    def _forget(self, session: Session, email: str) -> None:
        mine = (col(ManualLedger.platform) == self.platform, col(ManualLedger.email) == email)
        session.exec(delete(ManualLedger).where(*mine))

    def _remember(self, session: Session, email: str, field: str, value: str, actor: str) -> None:
        session.merge(
            ManualLedger(
                platform=self.platform,
                email=email,
                field=field,
                value=value,
                recorded_at=self._now(),
                recorded_by=actor,
            )
        )


def refuse_unknown(platform: str, catalog: RoleCatalog, desired: AccessState, *, scope_word: str) -> None:
    """What an admin would be asked to set must exist there: an unknown role or scope is refused before any task."""
    if not desired.member:
        return
    if desired.account_role is None or catalog.account_role(desired.account_role) != desired.account_role:
        raise PlatformRefused(platform, f"unknown account role {desired.account_role!r}")
    for scope in desired.scopes:
        if catalog.scope(scope) is None:
            raise PlatformRefused(platform, f"unknown {scope_word} {scope!r}")
