"""The audit trail's hash chain: every edit or deletion is found, and concurrent writers keep one line."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.audit import GENESIS, AuditKind, event_hash, events_for, record, verify_chain
from storage.db import make_engine, session_scope
from storage.models import AccessRequest, Approval, AuditEvent
from storage.requests import add_approval
from storage.schema import ensure_schema

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
REQUEST = {
    "id": 1,
    "verb": "add",
    "status": "pending",
    "requester_id": "UALICE",
    "target_email": "ana@agency.example",
    "reason": "x",
    "created_at": T0,
    "updated_at": T0,
}


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    ensure_schema(engine)
    return engine


def write(engine: Engine, count: int, *, actor: str = "UBOB") -> None:
    for index in range(count):
        with session_scope(engine) as session:
            record(
                session=session,
                event=AuditKind.APPROVED,
                actor=actor,
                at=T0 + timedelta(seconds=index),
                request_id=index + 1,
                platform="heap",
                target_email="ana@agency.example",
                detail={"before": {"member": False}, "note": f"step {index}", "when": T0},
            )


def rows(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))


def test_events_link_to_the_one_before(engine: Engine) -> None:
    write(engine, 3)
    first, second, third = rows(engine)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert all(event_hash(row) == row.hash for row in (first, second, third))
    with Session(engine) as session:
        report = verify_chain(session)
    assert report.intact and report.events == 3 and report.head_seq == 3 and report.head_hash == third.hash


def test_an_event_of_a_rolled_back_transaction_is_not_written_and_leaves_no_gap(engine: Engine) -> None:
    write(engine, 1)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        record(session=session, event=AuditKind.DENIED, actor="UBOB", at=T0)
        raise RuntimeError("the decision failed")
    write(engine, 1)
    assert [row.seq for row in rows(engine)] == [1, 2]
    with Session(engine) as session:
        assert verify_chain(session).intact


def test_a_savepoint_rolled_back_inside_the_transaction_keeps_what_was_recorded_before(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(AccessRequest(**REQUEST))
        session.add(Approval(request_id=1, approver_id="UBOB", at=T0))
    with session_scope(engine) as session:
        record(session=session, event=AuditKind.APPROVAL_REFUSED, actor="UBOB", at=T0, request_id=1)
        with (
            pytest.raises(IntegrityError),
            session.begin_nested(),
        ):  # a row refused by its key: the savepoint rolls back
            session.add(Approval(request_id=1, approver_id="UBOB", at=T0))
        assert not add_approval(session=session, request_id=1, approver_id="UBOB", at=T0)
    assert [row.event for row in rows(engine)] == ["approval_refused"]


def test_an_edited_event_is_found(engine: Engine) -> None:
    write(engine, 5)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'UMALLORY' WHERE seq = 3"))
    with Session(engine) as session:
        report = verify_chain(session)
    assert not report.intact and report.broken_at == 3
    assert report.problem is not None and "event #3" in report.problem and "was edited" in report.problem


def test_an_edited_detail_is_found_even_with_the_same_keys(engine: Engine) -> None:
    write(engine, 2)
    edited = "replace(detail, 'step 0', 'step 9')"
    if engine.dialect.name == "postgresql":
        edited = "CAST(replace(CAST(detail AS TEXT), 'step 0', 'step 9') AS JSON)"
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE audit_event SET detail = {edited} WHERE seq = 1"))
    with Session(engine) as session:
        assert verify_chain(session).broken_at == 1


def test_a_deleted_event_is_found(engine: Engine) -> None:
    write(engine, 5)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    with Session(engine) as session:
        report = verify_chain(session)
    assert report.broken_at == 2
    assert report.problem == "event #2 is missing: deleted from the trail (next is #3)"


def test_a_deleted_event_whose_successors_were_renumbered_is_found(engine: Engine) -> None:
    write(engine, 4)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 2"))
        connection.execute(text("UPDATE audit_event SET seq = seq - 1 WHERE seq > 2"))
        connection.execute(text("UPDATE audit_head SET seq = 3"))
    with Session(engine) as session:
        report = verify_chain(session)
    assert report.broken_at == 2 and report.problem is not None and "link" in report.problem


def test_deleting_the_newest_events_is_found_through_the_head(engine: Engine) -> None:
    write(engine, 5)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq >= 4"))
    with Session(engine) as session:
        report = verify_chain(session)
    assert report.problem == "events #4 to #5 are missing: the newest events were deleted"


def test_concurrent_writers_keep_one_unbroken_line(engine: Engine) -> None:
    threads = [threading.Thread(target=write, args=(engine, 15), kwargs={"actor": f"U{n}"}) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [row.seq for row in rows(engine)] == list(range(1, 61))
    with Session(engine) as session:
        assert verify_chain(session).intact


def test_an_empty_trail_is_intact(engine: Engine) -> None:
    with Session(engine) as session:
        report = verify_chain(session)
    assert report.intact and report.events == 0 and report.head_hash == GENESIS


def test_swapped_ids_are_found_and_a_requests_events_keep_the_chains_order(engine: Engine) -> None:
    with session_scope(engine) as session:
        for event in (AuditKind.REQUESTED, AuditKind.APPROVED):
            record(session=session, event=event, actor="UBOB", at=T0, request_id=7, target_email="ana@agency.example")
    first, second = rows(engine)
    with engine.begin() as connection:  # swap the two rows' ids, as someone editing the table could
        connection.execute(text("UPDATE audit_event SET id = -1 WHERE id = :id"), {"id": first.id})
        connection.execute(text("UPDATE audit_event SET id = :a WHERE id = :b"), {"a": first.id, "b": second.id})
        connection.execute(text("UPDATE audit_event SET id = :b WHERE id = -1"), {"b": second.id})
    with Session(engine) as session:
        assert [event.event for event in events_for(session=session, request_id=7)] == ["requested", "approved"]
        report = verify_chain(session)
    assert not report.intact and report.broken_at == 1
    assert report.problem == "event #1 has id 2: an event's id is its place in the chain, so ids were changed"


def test_an_events_id_is_its_place_in_the_chain_so_changing_it_is_found(engine: Engine) -> None:
    write(engine, 3)
    assert [(row.id, row.seq) for row in rows(engine)] == [(1, 1), (2, 2), (3, 3)]
    with engine.begin() as connection:  # move the middle event to an unused id: the order of ids still holds
        connection.execute(text("UPDATE audit_event SET id = 1000 WHERE seq = 2"))
    with Session(engine) as session:
        report = verify_chain(session)
    assert not report.intact and report.broken_at == 2
    assert report.problem == "event #2 has id 1000: an event's id is its place in the chain, so ids were changed"
