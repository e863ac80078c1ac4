"""Queries and commands on the grant ledger: accounts, their fenced claims, and grants.

A claim is a conditional UPDATE that bumps the account's `fence`; everything the claimant records afterwards first
checks, in the same transaction, that the fence is still its own (`hold`). A claim whose lease ran out can be taken
by another worker, which bumps the fence again, so the slow worker's late outcome is refused rather than recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain.ledger import LIVE, GrantState
from domain.lifecycle import ChangeStatus
from storage.db import expire_row, upsert
from storage.models import AccessRequest, Grant, PlatformAccount, PlatformChange, PlatformClaim


@dataclass(frozen=True)
class Claim:
    """The right to change one account (or, for a `PlatformClaim`, to move one platform's admin count) until the
    lease ends; `fence` is what every write under it is checked against."""

    key: int | str  # the account's id, or the platform's name
    fence: int
    token: str
    took_over: str | None = None  # the holder whose lease had run out, when this claim took its place


# --- accounts -------------------------------------------------------------------------------------------------------


def account_id(*, session: Session, platform: str, email: str, now: datetime) -> int:
    """The id of this person's account on this platform, made on first use (safe under concurrent first uses)."""
    row = session.exec(
        select(PlatformAccount.id).where(PlatformAccount.platform == platform, PlatformAccount.email == email)
    ).first()
    if row is not None:
        return row
    made = session.exec(
        upsert(session, PlatformAccount)
        .values(platform=platform, email=email, updated_at=now, plans=[], next_seq=0, fence=0, attempts=0)
        .on_conflict_do_nothing()
        .returning(col(PlatformAccount.id))
    ).first()
    if made is not None:
        return int(made[0])
    # Someone else made it first.
    found = session.exec(
        select(PlatformAccount.id).where(PlatformAccount.platform == platform, PlatformAccount.email == email)
    ).one()
    assert found is not None
    return found


def get_account(*, session: Session, account_id: int) -> PlatformAccount | None:
    return session.get(PlatformAccount, account_id)


def accounts_by_id(*, session: Session, account_ids: Iterable[int]) -> dict[int, PlatformAccount]:
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = session.exec(select(PlatformAccount).where(col(PlatformAccount.id).in_(ids)))
    return {row.id: row for row in rows if row.id is not None}


def find_account(*, session: Session, platform: str, email: str) -> PlatformAccount | None:
    return session.exec(
        select(PlatformAccount).where(PlatformAccount.platform == platform, PlatformAccount.email == email)
    ).first()


#: The tables whose rows are claimed: a person's account, or a platform (for its admin count).
Claimable = type[PlatformAccount] | type[PlatformClaim]


def _key_column(table: Claimable) -> Any:
    return col(PlatformAccount.id) if table is PlatformAccount else col(PlatformClaim.platform)


def _free_or_lapsed(table: Any, now: datetime) -> Any:
    return or_(col(table.claimed_by).is_(None), col(table.lease_until) <= now)


def claim(
    *, session: Session, table: Claimable, key: int | str, token: str, now: datetime, lease: timedelta
) -> Claim | None:
    """Claim one account (or platform) that is free or whose holder's lease ran out; None while someone holds it."""
    row: Any = session.get(table, key)
    if row is None or not (row.claimed_by is None or (row.lease_until is not None and row.lease_until <= now)):
        return None
    fence, holder = row.fence, row.claimed_by
    columns: Any = table
    moved = session.exec(
        update(table)
        .where(_key_column(table) == key, col(columns.fence) == fence, _free_or_lapsed(table, now))
        .values(fence=fence + 1, claimed_by=token, lease_until=now + lease)
    ).rowcount
    expire_row(session, table, key)
    if moved != 1:
        return None
    return Claim(key=key, fence=fence + 1, token=token, took_over=holder)


def platform_claim_row(*, session: Session, platform: str) -> None:
    """Make sure the platform has its claim row."""
    session.exec(upsert(session, PlatformClaim).values(platform=platform, fence=0).on_conflict_do_nothing())


class Claimed(NamedTuple):
    """An account a sweep claimed: which one, and the claim to work on it under."""

    platform: str
    email: str
    claim: Claim


def claim_due_accounts(*, session: Session, now: datetime, token: str, lease: timedelta, limit: int) -> list[Claimed]:
    """Claim up to `limit` accounts that need reconciling now: due and free, or held by a worker whose lease ran out
    (it died or hangs). Of concurrent claimers, each account goes to exactly one."""
    claimable = or_(
        and_(col(PlatformAccount.due_at) <= now, col(PlatformAccount.claimed_by).is_(None)),
        and_(col(PlatformAccount.claimed_by).is_not(None), col(PlatformAccount.lease_until) <= now),
    )
    candidates = (
        sa_select(col(PlatformAccount.id), col(PlatformAccount.claimed_by))
        .where(claimable)
        .order_by(col(PlatformAccount.due_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    previous = {row[0]: row[1] for row in session.exec(candidates).all()}  # type: ignore[call-overload]
    if not previous:
        return []
    session.exec(
        update(PlatformAccount)
        .where(col(PlatformAccount.id).in_(list(previous)), claimable)
        .values(fence=PlatformAccount.fence + 1, claimed_by=token, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    mine = sa_select(
        col(PlatformAccount.id), col(PlatformAccount.platform), col(PlatformAccount.email), col(PlatformAccount.fence)
    ).where(col(PlatformAccount.claimed_by) == token)
    return [
        Claimed(platform, email, Claim(key=key, fence=fence, token=token, took_over=previous.get(key)))
        for key, platform, email, fence in session.execute(mine)
    ]


def hold(*, session: Session, claim: Claim) -> PlatformAccount | None:
    """Lock the account for the rest of the transaction if `claim` still holds it; None when it has been taken over
    (the caller must then record nothing)."""
    moved = session.exec(
        update(PlatformAccount)
        .where(col(PlatformAccount.id) == claim.key, col(PlatformAccount.fence) == claim.fence)
        .values(fence=PlatformAccount.fence)
    ).rowcount
    expire_row(session, PlatformAccount, claim.key)
    return session.get(PlatformAccount, claim.key) if moved == 1 else None


def renew(
    *, session: Session, table: Claimable, claims: Sequence[tuple[int | str, int]], until: datetime
) -> set[int | str]:
    """Move the lease on for every (key, fence) still held; returns the keys that were."""
    columns: Any = table
    kept: set[int | str] = set()
    for key, fence in claims:
        # A claim let go meanwhile keeps its fence: its lease is not taken up again.
        held = (_key_column(table) == key, col(columns.fence) == fence, col(columns.claimed_by).is_not(None))
        moved = session.exec(update(table).where(*held).values(lease_until=until)).rowcount
        if moved == 1:
            kept.add(key)
    return kept


def release(*, session: Session, table: Claimable, key: int | str, fence: int, **fields: Any) -> bool:
    """Give the claim up (with any last fields); False when it had been taken over already."""
    columns: Any = table
    moved = session.exec(
        update(table)
        .where(_key_column(table) == key, col(columns.fence) == fence)
        .values(claimed_by=None, lease_until=None, **fields)
    ).rowcount
    expire_row(session, table, key)
    return moved == 1


def release_all(*, session: Session, claims: Sequence[Claim]) -> None:
    """Give up many account claims in one statement (those taken over meanwhile are left as they are)."""
    if not claims:
        return
    session.connection().execute(
        update(PlatformAccount)
        .where(col(PlatformAccount.id) == bindparam("key"), col(PlatformAccount.fence) == bindparam("held"))
        .values(claimed_by=None, lease_until=None),
        [{"key": claim.key, "held": claim.fence} for claim in claims],
    )


def mark_due(*, session: Session, account_id: int, at: datetime) -> None:
    """The account needs reconciling at `at` (or earlier, if it already was).

    The row is written whatever its due time, so this waits for a worker that holds the account locked while it
    records a step and lets it go (services.reconcile.outcome): that worker either sees what woke the account, or
    has let it go by the time this transaction can commit and claim it."""
    due = col(PlatformAccount.due_at)
    session.exec(
        update(PlatformAccount)
        .where(col(PlatformAccount.id) == account_id)
        .values(due_at=case((or_(due.is_(None), due > at), at), else_=due))
    )
    expire_row(session, PlatformAccount, account_id)


def next_due(*, session: Session) -> datetime | None:
    """The earliest moment any account needs reconciling."""
    return session.exec(select(func.min(PlatformAccount.due_at))).one()


# --- grants ---------------------------------------------------------------------------------------------------------


def grants_of(*, session: Session, account_id: int, states: Iterable[GrantState] | None = None) -> list[Grant]:
    statement = select(Grant).where(Grant.account_id == account_id)
    if states is not None:
        statement = statement.where(col(Grant.state).in_([state.value for state in states]))
    return list(session.exec(statement.order_by(col(Grant.seq))))


def get_grant(*, session: Session, grant_id: int) -> Grant | None:
    return session.get(Grant, grant_id)


def grants_by_id(*, session: Session, request_ids: list[int], grant_ids: list[int]) -> dict[int, Grant]:
    """The grants these requests made, and those named by id (what `extend` changes refer to)."""
    if not request_ids and not grant_ids:
        return {}
    statement = select(Grant).where(or_(col(Grant.request_id).in_(request_ids), col(Grant.id).in_(grant_ids)))
    return {row.id: row for row in session.exec(statement.order_by(col(Grant.id))) if row.id is not None}


def live_grants(
    *, session: Session, platform: str | None = None, email: str | None = None, temporary_only: bool = False
) -> list[Grant]:
    """Grants that hold access now (applying or active), oldest first."""
    statement = select(Grant).where(col(Grant.state).in_([state.value for state in LIVE]))
    if platform is not None:
        statement = statement.where(Grant.platform == platform)
    if email is not None:
        statement = statement.where(Grant.email == email)
    if temporary_only:
        statement = statement.where(col(Grant.permanent).is_(False))
    return list(session.exec(statement.order_by(col(Grant.platform), col(Grant.email), col(Grant.seq))))


def overdue_grants(*, session: Session, now: datetime) -> list[Grant]:
    """Temporary grants past their end whose access is still in place (a revert that keeps failing)."""
    statement = select(Grant).where(
        col(Grant.state).in_([GrantState.ACTIVE.value, GrantState.ENDING.value]),
        col(Grant.ends_at) <= now,
    )
    return list(session.exec(statement))


def set_grant(*, session: Session, grant_id: int, **fields: Any) -> None:
    session.exec(update(Grant).where(col(Grant.id) == grant_id).values(**fields))
    expire_row(session, Grant, grant_id)


def move_grant(
    *, session: Session, grant_id: int, sources: Iterable[GrantState], target: GrantState, **fields: Any
) -> bool:
    """Move a grant to `target` if it is in one of `sources`; True for exactly one of concurrent callers."""
    moved = session.exec(
        update(Grant)
        .where(col(Grant.id) == grant_id, col(Grant.state).in_([source.value for source in sources]))
        .values(state=target.value, **fields)
    ).rowcount
    expire_row(session, Grant, grant_id)
    return moved == 1


def answer_reminder(
    *, session: Session, grant_id: int, round_: int, answer: str, by: str, now: datetime, **fields: Any
) -> bool:
    """Record the first answer to reminder `round_` of an active grant; False when it was answered already (the other
    button of the pair won) or the grant is no longer active."""
    moved = session.exec(
        update(Grant)
        .where(
            col(Grant.id) == grant_id,
            col(Grant.state) == GrantState.ACTIVE.value,
            col(Grant.answered_round) < round_,
        )
        .values(answered_round=round_, answer=answer, answered_by=by, updated_at=now, **fields)
    ).rowcount
    expire_row(session, Grant, grant_id)
    return moved == 1


def revoke(*, session: Session, grant_id: int, round_: int, by: str, now: datetime) -> bool:
    """End an active grant now, unless someone pressed Keep on reminder `round_` first (the pair is one decision);
    True for exactly one of concurrent callers."""
    moved = session.exec(
        update(Grant)
        .where(
            col(Grant.id) == grant_id,
            col(Grant.state) == GrantState.ACTIVE.value,
            or_(col(Grant.answered_round) < round_, col(Grant.answer).is_(None), col(Grant.answer) != "kept"),
        )
        .values(
            state=GrantState.ENDING.value,
            end_reason="revoked",
            ended_by=by,
            answered_round=round_,
            answer="revoked",
            answered_by=by,
            next_remind_at=None,
            updated_at=now,
        )
    ).rowcount
    expire_row(session, Grant, grant_id)
    return moved == 1


def due_reminders(*, session: Session, now: datetime, limit: int) -> list[Grant]:
    statement = (
        select(Grant)
        .where(
            Grant.state == GrantState.ACTIVE.value,
            col(Grant.next_remind_at) <= now,
            col(Grant.ends_at) > now,
        )
        .order_by(col(Grant.next_remind_at))
        .limit(limit)
    )
    return list(session.exec(statement))


def claim_reminder(
    *, session: Session, grant_id: int, due_at: datetime, following: datetime | None, now: datetime
) -> bool:
    """Take the reminder due at `due_at` and move to the next one; True for exactly one caller."""
    moved = session.exec(
        update(Grant)
        .where(
            col(Grant.id) == grant_id,
            col(Grant.state) == GrantState.ACTIVE.value,
            col(Grant.next_remind_at) == due_at,
        )
        .values(next_remind_at=following, reminders_sent=Grant.reminders_sent + 1, updated_at=now)
    ).rowcount
    expire_row(session, Grant, grant_id)
    return moved == 1


def next_reminder(*, session: Session) -> datetime | None:
    statement = select(func.min(Grant.next_remind_at)).where(Grant.state == GrantState.ACTIVE.value)
    return session.exec(statement).one()


# --- the queue of changes on an account ---------------------------------------------------------------------------


def next_change(*, session: Session, account_id: int) -> PlatformChange | None:
    """The change the account works on next: one it was applying already (a worker died, or manual steps were just
    done), else the oldest queued."""
    applying_first = case((col(PlatformChange.status) == ChangeStatus.APPLYING.value, 0), else_=1)
    return session.exec(
        select(PlatformChange)
        .where(
            PlatformChange.account_id == account_id,
            col(PlatformChange.status).in_([ChangeStatus.APPLYING.value, ChangeStatus.QUEUED.value]),
        )
        .order_by(applying_first, col(PlatformChange.queued_at), col(PlatformChange.id))
        .limit(1)
    ).first()


def awaiting_manual(*, session: Session, account_id: int) -> list[PlatformChange]:
    return list(
        session.exec(
            select(PlatformChange).where(
                PlatformChange.account_id == account_id,
                PlatformChange.status == ChangeStatus.AWAITING_MANUAL.value,
            )
        )
    )


def with_changes(*, session: Session, account_ids: Iterable[int]) -> set[int]:
    """Those of these accounts with a change queued or being applied."""
    ids = list(account_ids)
    if not ids:
        return set()
    statement = select(PlatformChange.account_id).where(
        col(PlatformChange.account_id).in_(ids),
        col(PlatformChange.status).in_([ChangeStatus.QUEUED.value, ChangeStatus.APPLYING.value]),
    )
    return {account_id for account_id in session.exec(statement) if account_id is not None}


def target_of(*, session: Session, request_id: int) -> str:
    request = session.get(AccessRequest, request_id)
    assert request is not None
    return request.target_email


def overdue(*, session: Session, now: datetime) -> tuple[int, datetime | None]:
    """Temporary grants past their end whose access is not verified gone yet, and the earliest of their ends."""
    statement = select(func.count(), func.min(Grant.ends_at)).where(
        col(Grant.state).in_([GrantState.ACTIVE.value, GrantState.ENDING.value]),
        col(Grant.permanent).is_(False),
        col(Grant.ends_at) <= now,
    )
    count, earliest = session.exec(statement).one()
    return int(count), earliest
