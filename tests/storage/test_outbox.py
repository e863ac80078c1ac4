"""Many redraws kept at once: the same as keeping each, in a few statements."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import make_engine, session_scope
from storage.models import SlackOutbox
from storage.outbox import Lane, OutboxStatus, enqueue, enqueue_many
from storage.schema import ensure_schema

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    ensure_schema(engine)
    return engine


def test_keeping_many_supersedes_what_each_key_had_pending_and_keeps_the_last_of_a_key(engine: Engine) -> None:
    with session_scope(engine) as session:
        enqueue(session=session, method="chat.update", params={"text": "old"}, at=T0, coalesce_key="card:1")
        enqueue(session=session, method="chat.update", params={"text": "other"}, at=T0, coalesce_key="card:9")
    calls = [
        ("chat.update", {"text": f"card {n}"}, f"card:{n}")
        for n in range(1, 1201)  # more keys than one statement
    ] + [("chat.update", {"text": "card 1 again"}, "card:1"), ("chat.postMessage", {"text": "digest"}, None)]
    with session_scope(engine) as session:
        assert enqueue_many(session=session, calls=calls, at=T0, lane=Lane.BACKGROUND) == 1201
    with Session(engine) as session:
        rows = list(session.exec(select(SlackOutbox).order_by(col(SlackOutbox.id))))
    pending = {row.coalesce_key: row for row in rows if row.status == OutboxStatus.PENDING}
    assert pending["card:1"].params == {"text": "card 1 again"}, "the last redraw of a message wins"
    assert pending["card:9"].params == {"text": "card 9"} and pending["card:9"].lane == Lane.BACKGROUND
    assert [row.params["text"] for row in rows if row.status == OutboxStatus.SUPERSEDED] == ["old", "other"]
    assert pending[None].params == {"text": "digest"}
    assert len(pending) == 1201
