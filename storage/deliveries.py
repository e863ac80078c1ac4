"""Which Slack deliveries were seen: the first of several identical ones wins, across every bot instance."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col

from storage.db import upsert
from storage.models import SlackDelivery

#: Longer than Slack's signature window (5 minutes) and its retries of an event (up to about an hour apart in all).
KEPT_FOR = timedelta(hours=1)


def first_delivery(*, session: Session, key: str, at: datetime) -> bool:
    """Note `key` as delivered; True only for the first delivery of it (concurrent ones included)."""
    inserted = session.exec(upsert(session, SlackDelivery).values(key=key, seen_at=at).on_conflict_do_nothing())
    return bool(inserted.rowcount)


def forget_before(*, session: Session, at: datetime) -> int:
    """Forget deliveries seen before `at`; returns how many."""
    return session.exec(delete(SlackDelivery).where(col(SlackDelivery.seen_at) < at)).rowcount
