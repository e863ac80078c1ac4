"""Queries and commands on access requests and their platform changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from domain.lifecycle import (
    CHANGE_TRANSITIONS,
    REQUEST_TRANSITIONS,
    ChangeEvent,
    ChangeStatus,
    RequestEvent,
    RequestStatus,
)
from storage.models import AccessRequest, PlatformChange


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


def get_change(*, session: Session, change_id: int) -> PlatformChange | None:
    return session.get(PlatformChange, change_id)


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
    )
    moved = session.exec(statement).rowcount == 1
    session.expire_all()
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
    session.expire_all()


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
