"""Rate limits shared by every bot process and instance on one database: one token bucket per platform host.

A bucket refills at the platform's rate and holds a burst (domain.rate_limits.burst): five seconds' worth, or for a
slow limit (Heap's 60 an hour) up to ten requests, so that an operation of several calls can go through at once. Taking
a token reads the bucket, then moves it on with an update conditional on its version: of two processes taking at once,
one wins and the other reads again. Nothing is written while the bucket is empty, so waiting costs no writes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from domain.rate_limits import burst
from storage.db import session_scope
from storage.models import RateBucket

#: After this many lost races in a row, the taker is asked to wait a moment before trying again.
MAX_RACES = 20
RACE_PAUSE = 0.05


def take_token(engine: Engine, *, key: str, per_minute: float, now: datetime) -> float:
    """Take one request's worth of `key`'s bucket: 0.0 when taken, else the seconds until there is one (nothing is
    taken then)."""
    rate = per_minute / 60.0
    capacity = burst(per_minute)
    for _ in range(MAX_RACES):
        with Session(engine) as session:
            bucket = session.get(RateBucket, key)
            seen = None if bucket is None else (bucket.tokens, bucket.updated_at, bucket.version)
        if seen is None:
            try:
                with session_scope(engine) as session:
                    session.add(RateBucket(key=key, tokens=capacity - 1, updated_at=now, version=0))
                return 0.0
            except IntegrityError:
                continue  # another process made it first
        tokens, updated_at, version = seen
        elapsed = max(0.0, (now - updated_at).total_seconds())
        tokens = min(capacity, tokens + elapsed * rate)
        if tokens < 1:
            return (1 - tokens) / rate
        with session_scope(engine) as session:
            moved = session.exec(
                update(RateBucket)
                .where(col(RateBucket.key) == key, col(RateBucket.version) == version)
                .values(tokens=tokens - 1, updated_at=max(now, updated_at), version=version + 1)
            ).rowcount
        if moved == 1:
            return 0.0
    return RACE_PAUSE
