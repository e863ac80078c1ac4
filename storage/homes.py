"""Who opened the bot's App Home."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.db import upsert
from storage.models import HomeViewer


def note_opened(*, session: Session, user_id: str, at: datetime) -> None:
    """Remember that `user_id` opened their Home (safe when two instances note it at once)."""
    session.exec(
        upsert(session, HomeViewer)
        .values(user_id=user_id, opened_at=at)
        .on_conflict_do_update(index_elements=["user_id"], set_={"opened_at": at})
    )


def viewers(*, session: Session) -> list[str]:
    return list(session.exec(select(HomeViewer.user_id).order_by(col(HomeViewer.user_id))))
