"""Named locks held until the transaction ends: for decisions that count rows and then add one (break-glass uses
per person per day), which a conditional update on a single row cannot protect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import Session

from storage.db import upsert
from storage.models import BotState


def hold_lock(*, session: Session, key: str) -> None:
    """Wait for, then hold, the lock named `key` until the session's transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(key=key))  # type: ignore[call-overload]
        return
    # SQLite has one writer at a time, and a transaction becomes the writer at its first write: writing first makes
    # every read after it see what the transaction before committed, and keeps the next one out until this ends.
    now = datetime.now(UTC)
    session.exec(
        upsert(session, BotState)
        .values(key=f"lock:{key}", value={}, updated_at=now)
        .on_conflict_do_update(index_elements=["key"], set_={"updated_at": now})
    )
