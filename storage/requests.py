"""Queries and commands on access requests and their platform changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain.lifecycle import (
    CHANGE_TRANSITIONS,
    REQUEST_TRANSITIONS,
    ChangeEvent,
    ChangeStatus,
    RequestEvent,
    RequestStatus,
)
from storage.db import expire_row, in_chunks, upsert
from storage.models import AccessRequest, Approval, PlatformChange


def add_request(*, session: Session, request: AccessRequest, changes: list[PlatformChange]) -> AccessRequest:
    session.add(request)
    session.flush()
    assert request.id is not None
    for change in changes:
        change.request_id = request.id
        session.add(change)
    session.flush()
    return request


def get_request(*, session: Session, request_id: int) -> AccessRequest | None:
    return session.get(AccessRequest, request_id)


def requests_by_id(*, session: Session, request_ids: Iterable[int]) -> list[AccessRequest]:
    ids = sorted(set(request_ids))
    if not ids:
        return []
    return list(session.exec(select(AccessRequest).where(col(AccessRequest.id).in_(ids))))


class WhoToTell(NamedTuple):
    """What telling people of a request needs of it: who asked, whose access it is, and where its card is."""

    id: int
    requester_id: str
    target_slack_id: str | None
    card_channel: str | None
    card_ts: str | None


def who_to_tell(*, session: Session, request_ids: Iterable[int]) -> dict[int, WhoToTell]:
    """Those columns of many requests at once (a few columns read, no rows loaded: many grants end together)."""
    ids = sorted(set(request_ids))
    statement = sa_select(
        col(AccessRequest.id),
        col(AccessRequest.requester_id),
        col(AccessRequest.target_slack_id),
        col(AccessRequest.card_channel),
        col(AccessRequest.card_ts),
    )
    found: dict[int, WhoToTell] = {}
    for chunk in in_chunks(ids):
        for row in session.execute(statement.where(col(AccessRequest.id).in_(chunk))):
            found[row[0]] = WhoToTell(*row)
    return found


def lock_request(*, session: Session, request_id: int) -> bool:
    """Lock the request until the transaction ends, before reading it: what follows then sees every decision
    committed before, and no other approver commits until this transaction ends. False when it does not exist."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite locks the whole database for writing, and begins a transaction at the first write: a write that
        # changes nothing takes that lock now, before any read.
        touched = session.exec(
            update(AccessRequest).where(col(AccessRequest.id) == request_id).values(id=AccessRequest.id)
        ).rowcount
        return touched == 1
    statement = select(AccessRequest).where(AccessRequest.id == request_id).with_for_update()
    return session.exec(statement).first() is not None


def approvals_of(*, session: Session, request_id: int) -> list[Approval]:
    statement = select(Approval).where(Approval.request_id == request_id).order_by(col(Approval.at))
    return list(session.exec(statement))


def approvals_for(*, session: Session, request_ids: list[int]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {request_id: [] for request_id in request_ids}
    if request_ids:
        statement = select(Approval).where(col(Approval.request_id).in_(request_ids)).order_by(col(Approval.at))
        for row in session.exec(statement):
            grouped[row.request_id].append(row.approver_id)
    return grouped


def add_approval(*, session: Session, request_id: int, approver_id: str, at: datetime) -> bool:
    """Record an approval; False when this person had approved already."""
    added = session.exec(
        upsert(session, Approval)
        .values(request_id=request_id, approver_id=approver_id, at=at)
        .on_conflict_do_nothing(index_elements=["request_id", "approver_id"])
    ).rowcount
    return added == 1


def break_glass_uses(*, session: Session, requester_id: str, since: datetime) -> int:
    statement = select(AccessRequest).where(
        AccessRequest.requester_id == requester_id,
        col(AccessRequest.break_glass).is_(True),
        col(AccessRequest.created_at) >= since,
    )
    return len(session.exec(statement).all())


def due_pending(*, session: Session, now: datetime, limit: int) -> tuple[list[AccessRequest], list[AccessRequest]]:
    """Undecided requests whose approvers are due a reminder (once; a removal's, again and again), and those due to
    expire."""
    pending = col(AccessRequest.status) == RequestStatus.PENDING.value
    remind = select(AccessRequest).where(
        pending,
        col(AccessRequest.remind_at) <= now,
        or_(col(AccessRequest.reminded_at).is_(None), col(AccessRequest.verb) == "remove"),
    )
    expire = select(AccessRequest).where(pending, col(AccessRequest.expires_at) <= now)
    return list(session.exec(remind.limit(limit))), list(session.exec(expire.limit(limit)))


def mark_reminded(
    *, session: Session, request_id: int, due_at: datetime, at: datetime, next_at: datetime | None = None
) -> bool:
    """Claim the reminder due at `due_at` (of two workers, one sends it); `next_at`: when the next is due."""
    moved = session.exec(
        update(AccessRequest)
        .where(
            col(AccessRequest.id) == request_id,
            col(AccessRequest.status) == RequestStatus.PENDING.value,
            col(AccessRequest.remind_at) == due_at,
        )
        .values(reminded_at=at, remind_at=next_at)
    ).rowcount
    expire_row(session, AccessRequest, request_id)
    return moved == 1


def get_change(*, session: Session, change_id: int) -> PlatformChange | None:
    return session.get(PlatformChange, change_id)


def lock_change(*, session: Session, change_id: int) -> PlatformChange | None:
    """The change, locked until the transaction ends (PostgreSQL; SQLite's one writer at a time does the same)."""
    return session.get(PlatformChange, change_id, with_for_update=True, populate_existing=True)


def changes_of(*, session: Session, request_id: int) -> list[PlatformChange]:
    statement = select(PlatformChange).where(PlatformChange.request_id == request_id).order_by(col(PlatformChange.id))
    return list(session.exec(statement))


def transition_request(*, session: Session, request_id: int, event: RequestEvent, at: datetime, **fields: Any) -> bool:
    """Move a request along `event` if it is still in a state that allows it. True when this call made the move."""
    sources, target = REQUEST_TRANSITIONS[event]
    return _guarded_move(session, AccessRequest, request_id, sources, target, at=at, **fields)


def transition_change(*, session: Session, change_id: int, event: ChangeEvent, at: datetime, **fields: Any) -> bool:
    sources, target = CHANGE_TRANSITIONS[event]
    return _guarded_move(session, PlatformChange, change_id, sources, target, at=at, **fields)


def _guarded_move(
    session: Session,
    table: type[AccessRequest] | type[PlatformChange],
    row_id: int,
    sources: frozenset[StrEnum],
    target: StrEnum,
    *,
    at: datetime,
    **fields: Any,
) -> bool:
    """UPDATE ... WHERE id = :id AND status IN (:sources): of two concurrent callers, exactly one sees a row change."""
    statement = (
        update(table)
        .where(col(table.id) == row_id, col(table.status).in_([source.value for source in sources]))
        .values(status=target.value, updated_at=at, **fields)
        # The one row it may change is expired below: no need to work out whether it did.
        .execution_options(synchronize_session=False)
    )
    moved = session.exec(statement).rowcount == 1
    expire_row(session, table, row_id)
    return moved


def skip_waiting_changes(*, session: Session, request_id: int, at: datetime) -> None:
    sources, target = CHANGE_TRANSITIONS[ChangeEvent.SKIP]
    session.exec(
        update(PlatformChange)
        .where(
            col(PlatformChange.request_id) == request_id,
            col(PlatformChange.status).in_([s.value for s in sources]),
        )
        .values(status=target.value, updated_at=at)
    )
    session.expire_all()


def set_card(*, session: Session, request_id: int, channel: str, ts: str) -> None:
    session.exec(
        update(AccessRequest).where(col(AccessRequest.id) == request_id).values(card_channel=channel, card_ts=ts)
    )
    expire_row(session, AccessRequest, request_id)


def list_requests(
    *,
    session: Session,
    statuses: Iterable[RequestStatus] | None = None,
    target_email: str | None = None,
    requester_id: str | None = None,
    platform: str | None = None,
    limit: int = 50,
) -> list[AccessRequest]:
    statement = select(AccessRequest)
    if statuses is not None:
        statement = statement.where(col(AccessRequest.status).in_([s.value for s in statuses]))
    if target_email is not None:
        statement = statement.where(AccessRequest.target_email == target_email.lower())
    if requester_id is not None:
        statement = statement.where(AccessRequest.requester_id == requester_id)
    if platform is not None:
        statement = statement.where(
            col(AccessRequest.id).in_(select(PlatformChange.request_id).where(PlatformChange.platform == platform))
        )
    statement = statement.order_by(col(AccessRequest.id).desc()).limit(limit)
    return list(session.exec(statement))


def changes_by_request(*, session: Session, request_ids: list[int]) -> dict[int, list[PlatformChange]]:
    grouped: dict[int, list[PlatformChange]] = {request_id: [] for request_id in request_ids}
    if not request_ids:
        return grouped
    statement = (
        select(PlatformChange).where(col(PlatformChange.request_id).in_(request_ids)).order_by(col(PlatformChange.id))
    )
    for change in session.exec(statement):
        assert change.request_id is not None
        grouped[change.request_id].append(change)
    return grouped


def change_statuses(*, session: Session, request_id: int) -> list[ChangeStatus]:
    return [ChangeStatus(change.status) for change in changes_of(session=session, request_id=request_id)]


def interrupted_changes(*, session: Session, before: datetime, limit: int = 100) -> list[PlatformChange]:
    """Changes claimed for applying longer ago than a lease: their worker died or hangs."""
    statement = (
        select(PlatformChange)
        .where(PlatformChange.status == ChangeStatus.APPLYING, col(PlatformChange.updated_at) < before)
        .order_by(col(PlatformChange.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def stalled_requests(
    *, session: Session, status: RequestStatus, before: datetime, limit: int = 100
) -> list[AccessRequest]:
    """Requests in `status` where nothing, neither the request nor any of its changes, moved since `before`."""
    recent = (
        select(PlatformChange.request_id)
        .where(col(PlatformChange.request_id) == AccessRequest.id, col(PlatformChange.updated_at) >= before)
        .exists()
    )
    statement = (
        select(AccessRequest)
        .where(AccessRequest.status == status, col(AccessRequest.updated_at) < before, ~recent)
        .order_by(col(AccessRequest.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def counts_by_status(*, session: Session) -> list[tuple[str, str, int]]:
    """How many requests there are of each verb in each status."""
    statement = select(AccessRequest.verb, AccessRequest.status, func.count()).group_by(
        AccessRequest.verb, AccessRequest.status
    )
    return [(verb, status, count) for verb, status, count in session.exec(statement)]


def pending_for(*, session: Session, target_email: str, verb: str) -> list[AccessRequest]:
    """Requests of this verb for this person that wait for a decision, oldest first."""
    statement = (
        select(AccessRequest)
        .where(
            AccessRequest.target_email == target_email,
            AccessRequest.verb == verb,
            AccessRequest.status == RequestStatus.PENDING.value,
        )
        .order_by(col(AccessRequest.id))
    )
    return list(session.exec(statement))
