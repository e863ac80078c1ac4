"""The Slack outbox: calls kept while Slack is unreachable, claimed and delivered in order when it is back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from storage.db import in_chunks
from storage.models import SlackOutbox


class Lane(StrEnum):
    NOW = "now"  # in order, first
    BACKGROUND = "background"  # redraws that may wait until the now lane is empty


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SUPERSEDED = "superseded"  # a newer redraw of the same message replaced it
    DROPPED = "dropped"  # Slack refused it for good (channel gone...), logged


def enqueue(
    *,
    session: Session,
    method: str,
    params: dict[str, Any],
    at: datetime,
    coalesce_key: str | None = None,
    card_for_request: int | None = None,
    lane: Lane = Lane.NOW,
) -> SlackOutbox:
    if coalesce_key is not None:
        session.exec(
            update(SlackOutbox)
            .where(col(SlackOutbox.coalesce_key) == coalesce_key, col(SlackOutbox.status) == OutboxStatus.PENDING)
            .values(status=OutboxStatus.SUPERSEDED.value)
        )
    row = SlackOutbox(
        method=method,
        params=params,
        status=OutboxStatus.PENDING.value,
        coalesce_key=coalesce_key,
        card_for_request=card_for_request,
        lane=lane.value,
        created_at=at,
        next_attempt_at=at,
    )
    session.add(row)
    session.flush()
    return row


def enqueue_many(
    *, session: Session, calls: Sequence[tuple[str, dict[str, Any], str | None]], at: datetime, lane: Lane
) -> int:
    """Keep many calls (method, params, coalesce key) at once: what `enqueue` does for each, in a few statements
    however many there are (many grants ending together are redrawn in the background lane this way)."""
    keys = [key for _, _, key in calls if key is not None]
    for chunk in in_chunks(keys):
        session.exec(
            update(SlackOutbox)
            .where(
                col(SlackOutbox.coalesce_key).in_(chunk),
                col(SlackOutbox.status) == OutboxStatus.PENDING,
            )
            .values(status=OutboxStatus.SUPERSEDED.value)
        )
    latest = {key: index for index, (_, _, key) in enumerate(calls) if key is not None}  # a key twice: the last wins
    rows = [
        {
            "method": method,
            "params": params,
            "status": OutboxStatus.PENDING.value,
            "coalesce_key": key,
            "card_for_request": None,
            "lane": lane.value,
            "created_at": at,
            "next_attempt_at": at,
            "attempts": 0,
        }
        for index, (method, params, key) in enumerate(calls)
        if key is None or latest[key] == index
    ]
    if rows:
        session.execute(insert(SlackOutbox.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


def has_pending(*, session: Session, lane: Lane = Lane.NOW) -> bool:
    statement = (
        select(SlackOutbox.id)
        .where(SlackOutbox.status == OutboxStatus.PENDING, SlackOutbox.lane == lane.value)
        .limit(1)
    )
    return session.exec(statement).first() is not None


def claim_next(*, session: Session, now: datetime, token: str, lease: timedelta, lane: Lane) -> SlackOutbox | None:
    """The oldest pending call of `lane`, claimed for this worker, if it is due and nobody else holds it.

    Oldest first and one at a time: a thread's replies must arrive in the order they were written.
    """
    oldest = session.exec(
        select(SlackOutbox)
        .where(SlackOutbox.status == OutboxStatus.PENDING, SlackOutbox.lane == lane.value)
        .order_by(col(SlackOutbox.id))
        .limit(1)
    ).first()
    if oldest is None or oldest.id is None or oldest.next_attempt_at > now:
        return None
    free = col(SlackOutbox.claim_token).is_(None) | (col(SlackOutbox.claimed_at) < now - lease)
    moved = session.exec(
        update(SlackOutbox)
        .where(col(SlackOutbox.id) == oldest.id, col(SlackOutbox.status) == OutboxStatus.PENDING, free)
        .values(claim_token=token, claimed_at=now)
    ).rowcount
    session.expire_all()
    return session.get(SlackOutbox, oldest.id) if moved == 1 else None


def finish(*, session: Session, row_id: int, token: str, status: OutboxStatus, at: datetime, error: str | None) -> None:
    session.exec(
        update(SlackOutbox)
        .where(col(SlackOutbox.id) == row_id, col(SlackOutbox.claim_token) == token)
        .values(status=status.value, sent_at=at, last_error=error, claim_token=None, claimed_at=None)
    )


def retry_later(
    *, session: Session, row_id: int, token: str, at: datetime, error: str, first: timedelta, longest: timedelta
) -> None:
    row = session.get(SlackOutbox, row_id)
    if row is None or row.claim_token != token:
        return
    attempts = row.attempts + 1
    # first, twice that, ... up to `longest`: Slack outages are usually short, and the queue must not hammer it.
    delay = min(first * 2 ** (attempts - 1), longest)
    session.exec(
        update(SlackOutbox)
        .where(col(SlackOutbox.id) == row_id, col(SlackOutbox.claim_token) == token)
        .values(attempts=attempts, next_attempt_at=at + delay, last_error=error, claim_token=None, claimed_at=None)
    )


def pending_count(*, session: Session) -> int:
    return int(session.exec(select(func.count()).where(SlackOutbox.status == OutboxStatus.PENDING)).one())


def pending_by_lane(*, session: Session) -> dict[str, tuple[int, datetime]]:
    """Per lane: how many calls wait for Slack, and since when the oldest of them waits."""
    statement = (
        select(SlackOutbox.lane, func.count(), func.min(SlackOutbox.created_at))
        .where(SlackOutbox.status == OutboxStatus.PENDING)
        .group_by(SlackOutbox.lane)
    )
    return {lane: (count, oldest) for lane, count, oldest in session.exec(statement)}
