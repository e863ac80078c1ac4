"""The Slack outbox: calls kept while Slack is unreachable, claimed and delivered in order when it is back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from storage.db import expire_row, in_chunks
from storage.models import SlackOutbox


class Lane(StrEnum):
    NOW = "now"  # in order, first
    # What ending grants tell a channel or a person, held so that each hears at most once a window: every row of
    # this lane waits for its own moment, and any due row may go (there is no order across recipients).
    DIGEST = "digest"
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


#: The method of a digest row: the notices it holds are drawn into messages when it is sent.
DIGEST = "ended.digest"
#: Notices one digest message names at most (one line each, well within what Slack shows of a message).
DIGEST_ITEMS = 100


def hold(
    *,
    session: Session,
    recipient: str,
    items: Sequence[dict[str, Any]],
    now: datetime,
    window: timedelta,
    spacing: timedelta,
) -> None:
    """Keep notices for `recipient` (a channel or a person) in its digests: added to the one waiting, if any, else
    in a new one due a `window` after the recipient's last (at once, if that was long enough ago). Each message
    names at most DIGEST_ITEMS; those that follow one another are `spacing` apart (Slack takes about one message a
    second per channel)."""
    key = f"ended:{recipient}"
    mine = (col(SlackOutbox.coalesce_key) == key, col(SlackOutbox.lane) == Lane.DIGEST.value)
    waiting = (col(SlackOutbox.status) == OutboxStatus.PENDING, col(SlackOutbox.claim_token).is_(None))
    # A write first: on SQLite it takes the database's write lock, on PostgreSQL the waiting digest's row lock, so
    # that two workers telling one recipient add to one digest.
    session.exec(update(SlackOutbox).where(*mine, *waiting).values(attempts=SlackOutbox.attempts))
    rows = list(session.exec(select(SlackOutbox).where(*mine, *waiting).order_by(col(SlackOutbox.next_attempt_at))))
    left = list(items)
    for row in rows:
        room = DIGEST_ITEMS - len(row.params["items"])
        if room > 0 and left:
            added, left = left[:room], left[room:]
            row.params = {**row.params, "items": [*row.params["items"], *added]}
            session.add(row)
    if not left:
        return
    if rows:
        due = max(row.next_attempt_at for row in rows) + spacing
    else:
        # The last message this recipient was sent, or is being sent now.
        went = func.coalesce(SlackOutbox.sent_at, SlackOutbox.claimed_at)
        told = (col(SlackOutbox.status) == OutboxStatus.SENT) | col(SlackOutbox.claim_token).is_not(None)
        last = session.exec(select(func.max(went)).where(*mine, told)).one()
        due = now if last is None else max(now, _aware(last) + window)
    fresh = [
        {
            "method": DIGEST,
            "params": {"recipient": recipient, "items": left[start : start + DIGEST_ITEMS]},
            "status": OutboxStatus.PENDING.value,
            "coalesce_key": key,
            "card_for_request": None,
            "lane": Lane.DIGEST.value,
            "created_at": now,
            "next_attempt_at": due + spacing * number,
            "attempts": 0,
        }
        for number, start in enumerate(range(0, len(left), DIGEST_ITEMS))
    ]
    session.execute(insert(SlackOutbox.__table__), fresh)  # type: ignore[attr-defined]


def _aware(moment: datetime) -> datetime:
    """A timestamp read by an aggregate, which the column's type does not make aware."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def next_digest(*, session: Session) -> datetime | None:
    """When the next held digest is due."""
    statement = select(func.min(SlackOutbox.next_attempt_at)).where(
        SlackOutbox.status == OutboxStatus.PENDING, SlackOutbox.lane == Lane.DIGEST.value
    )
    found = session.exec(statement).one()
    return _aware(found) if found is not None else None


def has_pending(*, session: Session, lane: Lane = Lane.NOW) -> bool:
    statement = (
        select(SlackOutbox.id)
        .where(SlackOutbox.status == OutboxStatus.PENDING, SlackOutbox.lane == lane.value)
        .limit(1)
    )
    return session.exec(statement).first() is not None


def claim_next(*, session: Session, now: datetime, token: str, lease: timedelta, lane: Lane) -> SlackOutbox | None:
    """The oldest pending call of `lane`, claimed for this worker, if it is due and nobody else holds it.

    Oldest first and one at a time: a thread's replies must arrive in the order they were written. Digests have no
    order across recipients: the one due first goes.
    """
    free = col(SlackOutbox.claim_token).is_(None) | (col(SlackOutbox.claimed_at) < now - lease)
    statement = select(SlackOutbox).where(SlackOutbox.status == OutboxStatus.PENDING, SlackOutbox.lane == lane.value)
    if lane is Lane.DIGEST:
        statement = statement.where(col(SlackOutbox.next_attempt_at) <= now, free).order_by(
            col(SlackOutbox.next_attempt_at), col(SlackOutbox.id)
        )
    else:
        statement = statement.order_by(col(SlackOutbox.id))
    oldest = session.exec(statement.limit(1)).first()
    if oldest is None or oldest.id is None or oldest.next_attempt_at > now:
        return None
    moved = session.exec(
        update(SlackOutbox)
        .where(col(SlackOutbox.id) == oldest.id, col(SlackOutbox.status) == OutboxStatus.PENDING, free)
        .values(claim_token=token, claimed_at=now)
    ).rowcount
    expire_row(session, SlackOutbox, oldest.id)
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
