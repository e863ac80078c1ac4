"""Queries and commands on access reviews, and the bot's own small state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import expire_row
from storage.models import AccessReview, BotState, ReviewItem


def claim_review(*, session: Session, review: AccessReview) -> AccessReview | None:
    """Insert the review; None when another process already holds the same scheduled slot."""
    try:
        with session.begin_nested():
            session.add(review)
    except IntegrityError:
        return None
    return review


def add_items(*, session: Session, items: list[ReviewItem]) -> list[ReviewItem]:
    session.add_all(items)
    session.flush()
    return items


def get_review(*, session: Session, review_id: int) -> AccessReview | None:
    return session.get(AccessReview, review_id)


def items_of(*, session: Session, review_id: int) -> list[ReviewItem]:
    statement = select(ReviewItem).where(ReviewItem.review_id == review_id).order_by(col(ReviewItem.id))
    return list(session.exec(statement))


def get_item(*, session: Session, item_id: int) -> ReviewItem | None:
    return session.get(ReviewItem, item_id)


def place_items(*, session: Session, item_ids: list[int], channel: str, ts: str) -> None:
    """Remember which message shows these items, to redraw it when one is decided."""
    session.exec(
        update(ReviewItem).where(col(ReviewItem.id).in_(item_ids)).values(message_channel=channel, message_ts=ts)
    )


def decide_item(
    *, session: Session, item_id: int, decision: str, by: str, at: datetime, expected: str | None = None
) -> bool:
    """Record a decision if the item is still at `expected` (undecided by default); True for exactly one caller."""
    condition = col(ReviewItem.decision).is_(None) if expected is None else col(ReviewItem.decision) == expected
    moved = session.exec(
        update(ReviewItem)
        .where(col(ReviewItem.id) == item_id, condition)
        .values(decision=decision, decided_by=by, decided_at=at)
    ).rowcount
    expire_row(session, ReviewItem, item_id)
    return moved == 1


def link_request(*, session: Session, item_id: int, request_id: int) -> None:
    session.exec(update(ReviewItem).where(col(ReviewItem.id) == item_id).values(request_id=request_id))


def release_item(*, session: Session, item_id: int) -> None:
    """Undo a Remove whose request could not be made, so the row can be decided again."""
    session.exec(
        update(ReviewItem).where(col(ReviewItem.id) == item_id).values(decision=None, decided_by=None, decided_at=None)
    )


def last_scheduled(*, session: Session) -> datetime | None:
    value: datetime | None = session.exec(select(func.max(AccessReview.scheduled_for))).first()
    return value


def state(*, session: Session, key: str) -> dict[str, Any] | None:
    row = session.get(BotState, key)
    return row.value if row is not None else None


def state_once(*, session: Session, key: str, value: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The value kept under `key`, setting it to `value` if nothing is there yet (first writer wins)."""
    if (found := session.get(BotState, key)) is not None:
        return found.value
    try:
        with session.begin_nested():
            session.add(BotState(key=key, value=value, updated_at=at))
    except IntegrityError:
        pass
    found = session.get(BotState, key, populate_existing=True)
    assert found is not None
    return found.value
