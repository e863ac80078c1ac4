"""The audit trail's hash chains: every edit or deletion is found, and concurrent writers keep each chain one line."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.audit import (
    CHAINS,
    GENESIS,
    AuditKind,
    ChainHead,
    ChainReport,
    anchor_holds,
    chain_of,
    event_hash,
    events_for,
    parse_anchor,
    record,
    verify_chain,
)
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


def write(engine: Engine, count: int, *, actor: str = "UBOB", request_id: int = 7) -> None:
    """`count` events of one request, a transaction each: all in that request's chain."""
    for index in range(count):
        with session_scope(engine) as session:
            record(
                session=session,
                event=AuditKind.APPROVED,
                actor=actor,
                at=T0 + timedelta(seconds=index),
                request_id=request_id,
                platform="heap",
                target_email="ana@agency.example",
                detail={"before": {"member": False}, "note": f"step {index}", "when": T0},
            )


def rows(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.chain), col(AuditEvent.seq))))


def verify(engine: Engine) -> ChainReport:
    with Session(engine) as session:
        return verify_chain(session)


def test_events_link_to_the_one_before(engine: Engine) -> None:
    write(engine, 3)
    first, second, third = rows(engine)
    assert [(row.chain, row.seq) for row in (first, second, third)] == [(8, 1), (8, 2), (8, 3)]
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert all(event_hash(row) == row.hash for row in (first, second, third))
    report = verify(engine)
    assert report.intact and report.events == 3 and len(report.heads) == CHAINS
    assert report.heads[7] == ChainHead(chain=8, seq=3, hash=third.hash)
    assert all(head.seq == 0 and head.hash == GENESIS for head in report.heads if head.chain != 8)


def test_each_request_has_its_chain_and_each_chain_counts_from_one(engine: Engine) -> None:
    with session_scope(engine) as session:
        for request_id in (1, 2, 17, 1):
            record(session=session, event=AuditKind.REQUESTED, actor="UBOB", at=T0, request_id=request_id)
        record(session=session, event=AuditKind.DRIFT_DETECTED, actor="accessbot", at=T0, target_email="ana@x.example")
        record(session=session, event=AuditKind.REVIEW_STARTED, actor="UBOB", at=T0)
    placed = [(row.request_id, row.target_email, row.chain, row.seq) for row in rows(engine)]
    person = chain_of(None, "ana@x.example")
    assert person == 16  # a fixed number, the same in every process (Python's own hash() of a str is not)
    expected = [(None, None, 1, 1), (1, None, 2, 1), (17, None, 2, 2), (1, None, 2, 3), (2, None, 3, 1)]
    expected.append((None, "ana@x.example", person, 1))
    assert sorted(placed, key=lambda place: (place[2], place[3])) == sorted(expected, key=lambda p: (p[2], p[3]))
    assert verify(engine).intact


def test_an_event_of_a_rolled_back_transaction_is_not_written_and_leaves_no_gap(engine: Engine) -> None:
    write(engine, 1)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        record(session=session, event=AuditKind.DENIED, actor="UBOB", at=T0, request_id=7)
        raise RuntimeError("the decision failed")
    write(engine, 1)
    assert [row.seq for row in rows(engine)] == [1, 2]
    assert verify(engine).intact


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
        connection.execute(text("UPDATE audit_event SET actor = 'UMALLORY' WHERE chain = 8 AND seq = 3"))
    report = verify(engine)
    assert not report.intact and (report.broken_chain, report.broken_at) == (8, 3)
    assert report.problem is not None and "event #8.3" in report.problem and "was edited" in report.problem


def test_an_edited_detail_is_found_even_with_the_same_keys(engine: Engine) -> None:
    write(engine, 2)
    edited = "replace(detail, 'step 0', 'step 9')"
    if engine.dialect.name == "postgresql":
        edited = "CAST(replace(CAST(detail AS TEXT), 'step 0', 'step 9') AS JSON)"
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE audit_event SET detail = {edited} WHERE seq = 1"))
    assert verify(engine).broken_at == 1


def test_a_deleted_event_is_found(engine: Engine) -> None:
    write(engine, 5)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    report = verify(engine)
    assert (report.broken_chain, report.broken_at) == (8, 2)
    assert report.problem == "event #8.2 is missing: deleted from the trail (next is #8.3)"


def test_a_deleted_event_whose_successors_were_renumbered_is_found(engine: Engine) -> None:
    write(engine, 4)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 2"))
        connection.execute(text("UPDATE audit_event SET seq = seq - 1 WHERE seq > 2"))
        connection.execute(text("UPDATE audit_head SET seq = 3 WHERE id = 8"))
    report = verify(engine)
    assert report.broken_at == 2 and report.problem is not None and "link" in report.problem


def test_deleting_the_newest_events_is_found_through_the_head(engine: Engine) -> None:
    write(engine, 5)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq >= 4"))
    assert verify(engine).problem == "event #8.4 to #8.5 are missing: the newest were deleted"


def test_an_event_moved_to_another_chain_is_found(engine: Engine) -> None:
    write(engine, 3)
    write(engine, 1, request_id=2)
    with engine.begin() as connection:  # the newest event of chain 8 made the second event of chain 3
        connection.execute(text("UPDATE audit_event SET chain = 3, seq = 2 WHERE chain = 8 AND seq = 3"))
        connection.execute(text("UPDATE audit_head SET seq = 2 WHERE id = 8"))
    report = verify(engine)
    assert not report.intact and report.broken_chain == 3
    assert report.problem == "event #3.2 does not follow #3.1: the link is broken"


@pytest.mark.parametrize("events", [0, 2])
def test_a_deleted_chain_head_is_found_with_or_without_its_events(engine: Engine, events: int) -> None:
    write(engine, events, request_id=4)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_head WHERE id = 5"))
        if not events:
            connection.execute(text("DELETE FROM audit_event WHERE chain = 5"))
    report = verify(engine)
    assert not report.intact and report.broken_chain == 5
    assert report.problem is not None and "audit_head row was deleted" in report.problem


def test_concurrent_writers_keep_each_chain_one_unbroken_line(engine: Engine) -> None:
    """Writers on the same chain and on different ones, and transactions that write to two chains in either order:
    every chain counts on without gaps, and no two transactions deadlock on each other's heads."""

    def both(first: int, second: int) -> None:
        for index in range(10):
            with session_scope(engine) as session:
                for request_id in (first, second):
                    record(session=session, event=AuditKind.APPROVED, actor="UBOB", at=T0, request_id=request_id)
                assert index >= 0

    threads = [threading.Thread(target=write, args=(engine, 15), kwargs={"actor": f"U{n}"}) for n in range(2)]
    threads += [threading.Thread(target=both, args=pair) for pair in ((1, 2), (2, 1), (1, 7))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted = {chain: [row.seq for row in rows(engine) if row.chain == chain] for chain in (2, 3, 8)}
    assert counted == {2: list(range(1, 31)), 3: list(range(1, 21)), 8: list(range(1, 41))}
    assert verify(engine).intact


def test_an_empty_trail_is_intact(engine: Engine) -> None:
    report = verify(engine)
    assert report.intact and report.events == 0
    assert report.heads == tuple(ChainHead(chain=chain, seq=0, hash=GENESIS) for chain in range(1, CHAINS + 1))


def test_an_anchor_holds_until_the_events_it_names_are_rewritten(engine: Engine) -> None:
    write(engine, 2)
    write(engine, 1, request_id=2)
    anchor = parse_anchor(verify(engine).anchor)
    assert anchor is not None and anchor[0] == (0, 0, 1, *[0] * 4, 2, *[0] * 8)
    write(engine, 1)  # the trail goes on: what the anchor names is still there
    with Session(engine) as session:
        assert anchor_holds(session, *anchor)
    (event,) = [row for row in rows(engine) if row.chain == 3]
    forged = event.model_dump() | {"actor": "UMALLORY"}
    forged["hash"] = event_hash(forged)
    with engine.begin() as connection:  # chain 3 rewritten whole, its hashes recomputed: every link holds again
        connection.execute(text("UPDATE audit_event SET actor = 'UMALLORY', hash = :hash WHERE chain = 3"), forged)
        connection.execute(text("UPDATE audit_head SET hash = :hash WHERE id = 3"), forged)
    assert verify(engine).intact
    with Session(engine) as session:
        assert not anchor_holds(session, *anchor)


def test_an_anchor_must_name_at_most_every_chain_and_a_whole_hash() -> None:
    digest = "ab" * 32
    assert parse_anchor(f"5:{digest}") == ((5,), digest)
    assert parse_anchor(f"5.0.7:{digest.upper()}") == ((5, 0, 7), digest)
    for wrong in (f"5:{digest[:-1]}", f"5.x:{digest}", f"{'.'.join(['1'] * (CHAINS + 1))}:{digest}", digest, ""):
        assert parse_anchor(wrong) is None


def test_a_requests_events_keep_their_chains_order_whatever_their_ids(engine: Engine) -> None:
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
