"""Live temporary grants written straight into the database, many thousand a second, for the benchmarks to work on.

Each grant comes with what the bot would have written when it applied it: the request (applied, with its card), the
change, the ledger's account with its baseline, the grant with its end and reminders, and the sandbox member holding
the elevated access. Rows go in with one statement per table (not through the ORM, which would take minutes for
100,000): this is the set-up, never what is measured.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from domain.access import AccessChange, AccessState
from domain.catalog import RoleCatalog
from domain.ledger import GrantState, covered, value_of
from domain.lifecycle import ChangeStatus, RequestStatus
from storage.db import session_scope
from storage.models import (
    AccessRequest,
    Grant,
    PlatformAccount,
    PlatformChange,
    SandboxMember,
    SandboxScopeRole,
)

BEFORE = AccessState(member=True, account_role="Consumer")
CHANGE = AccessChange(account_role="Admin", scopes={"staging": "Admin"})
REQUESTER = "U0ALICE"
APPROVALS = "C0APPROVALS"
CHUNK = 5_000


def email_of(number: int) -> str:
    return f"collaborator{number}@agency.example"


def card_ts_of(number: int) -> str:
    return f"1700000000.{number:06d}"


def seed_grants(
    engine: Engine,
    catalog: RoleCatalog,
    n: int,
    *,
    ends_at: datetime,
    remind_at: datetime | None = None,
    platform: str = "sandbox",
) -> None:
    """N people each holding a live two-hour elevation (Consumer to Admin, and Admin on staging) that ends at
    `ends_at`, with a reminder due at `remind_at` when given. Expects an empty database with the schema in place."""
    elevated = CHANGE.desired_from(BEFORE, catalog)
    parts = covered(CHANGE, BEFORE, catalog)
    started = ends_at - timedelta(hours=2)
    request = _template(
        AccessRequest(
            verb="update",
            status=RequestStatus.APPLIED.value,
            requester_id=REQUESTER,
            target_email="",
            reason="benchmark",
            duration_seconds=7200,
            created_at=started,
            updated_at=started,
            decided_by="U0BOB",
            decided_at=started,
            card_channel=APPROVALS,
        )
    )
    change = _template(
        PlatformChange(
            platform=platform,
            action="grant",
            grant=CHANGE.model_dump(mode="json"),
            status=ChangeStatus.APPLIED.value,
            before=BEFORE.model_dump(mode="json"),
            after=elevated.model_dump(mode="json"),
            applied_at=started,
            updated_at=started,
        )
    )
    account = _template(
        PlatformAccount(
            platform=platform,
            email="",
            baseline=BEFORE.model_dump(mode="json"),
            baseline_source="first seen",
            expected=elevated.model_dump(mode="json"),
            next_seq=1,
            due_at=min(ends_at, remind_at) if remind_at else ends_at,
            updated_at=started,
        )
    )
    grant = _template(
        Grant(
            account_id=0,
            platform=platform,
            email="",
            request_id=0,
            seq=0,
            parts=parts,
            before={part: value_of(BEFORE, part) for part in parts},
            state=GrantState.ACTIVE.value,
            permanent=False,
            span_seconds=7200,
            planned_at=started,
            started_at=started,
            ends_at=ends_at,
            remind_at=[remind_at.isoformat()] if remind_at else [],
            next_remind_at=remind_at,
            updated_at=started,
        )
    )
    member = {"platform": platform, "account_role": elevated.account_role, "created_at": started, "last_active": None}
    tables: list[tuple[type[SQLModel], Callable[[int], dict[str, Any]]]] = [
        (AccessRequest, lambda k: {**request, "id": k, "target_email": email_of(k - 1), "card_ts": card_ts_of(k - 1)}),
        (PlatformChange, lambda k: {**change, "id": k, "request_id": k}),
        (PlatformAccount, lambda k: {**account, "id": k, "email": email_of(k - 1)}),
        (
            Grant,
            lambda k: {**grant, "id": k, "account_id": k, "request_id": k, "change_id": k, "email": email_of(k - 1)},
        ),
        (SandboxMember, lambda k: {**member, "email": email_of(k - 1)}),
    ]
    scopes = [(scope, role) for scope, role in elevated.scopes.items()]
    with session_scope(engine) as session:
        for model, row in tables:
            table: Any = model.__table__  # type: ignore[attr-defined]
            for first in range(1, n + 1, CHUNK):
                session.connection().execute(insert(table), [row(k) for k in range(first, min(first + CHUNK, n + 1))])
        scope_table: Any = SandboxScopeRole.__table__  # type: ignore[attr-defined]
        for first in range(0, n, CHUNK):
            session.connection().execute(
                insert(scope_table),
                [
                    {"platform": platform, "email": email_of(k), "scope": scope, "role": role}
                    for k in range(first, min(first + CHUNK, n))
                    for scope, role in scopes
                ],
            )


def _template(row: SQLModel) -> dict[str, Any]:
    """Every column of a row as the ORM would insert it (its defaults filled in)."""
    values = row.model_dump()
    values.pop("id", None)
    return values
