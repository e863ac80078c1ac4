"""The append-only audit trail: insert and read, nothing else, with a hash chain that shows any edit or deletion.

Each event's hash covers its content, its place in the trail (`seq`) and the previous event's hash; an event's id is
its `seq`, so the hash covers the id too. Editing an event changes its hash; deleting one
leaves a gap in `seq` and a link that points nowhere; deleting the newest ones leaves `audit_head` pointing past the
end. Someone able to rewrite the whole table and the head could forge a consistent chain, so `accessbot audit verify`
prints the head hash for auditors to keep elsewhere, and checks a hash kept earlier (`--anchor`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict
from sqlalchemy import event as orm_event
from sqlalchemy import insert, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from storage.models import AuditEvent, AuditHead

#: The actor recorded for what the bot does by itself (applying after approval, reverting at expiry).
BOT_ACTOR = "accessbot"


class AuditKind(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    APPROVAL_RECORDED = "approval_recorded"  # one of several approvals a rule needs
    APPROVAL_REFUSED = "approval_refused"
    DENIED = "denied"
    BREAK_GLASS = "break_glass"
    WITHDRAWN = "withdrawn"
    APPLY_STARTED = "apply_started"
    APPLIED = "applied"
    FAILED = "failed"
    ASKED_TO_WAIT = "asked_to_wait"  # the platform asked (Retry-After) to wait; the change is tried again then
    RETRIED = "retried"
    AWAITING_MANUAL = "awaiting_manual"
    MANUAL_STEP_DONE = "manual_step_done"
    MANUAL_STEP_SKIPPED = "manual_step_skipped"  # a step before a removal, with the approver's reason
    MANUAL_TASK_REMINDED = "manual_task_reminded"
    INVITATION_SENT = "invitation_sent"  # a platform invited a new member; their account counts once they accept
    INVITATION_RESENT = "invitation_resent"
    INVITATION_ACCEPTED = "invitation_accepted"  # the platform says so, or an admin does
    INVITATION_VOID = "invitation_void"  # the account went before the invitation was accepted
    EXPIRED = "expired"
    APPROVERS_REMINDED = "approvers_reminded"
    ELEVATION_STARTED = "elevation_started"
    REMINDED = "reminded"
    ELEVATION_EXTENDED = "elevation_extended"
    ELEVATION_KEPT = "elevation_kept"
    ELEVATION_REVOKED_EARLY = "elevation_revoked_early"
    ELEVATION_RELEASED = "elevation_released"
    ELEVATION_SUPERSEDED = "elevation_superseded"
    REVERTED = "reverted"
    REVERT_FAILED = "revert_failed"
    REVERT_ESCALATED = "revert_escalated"
    DRIFT_DETECTED = "drift_detected"
    RECONCILE_PLANNED = "reconcile_planned"  # written before a platform call: what was found, and what is desired
    CLAIM_TAKEN_OVER = "claim_taken_over"  # a worker's lease ran out (it died or hung) and another took its place
    REVIEW_STARTED = "review_started"
    REVIEW_KEPT = "review_kept"
    REVIEW_REMOVAL_REQUESTED = "review_removal_requested"


def record(
    *,
    session: Session,
    event: AuditKind,
    actor: str,
    at: datetime,
    request_id: int | None = None,
    platform: str | None = None,
    target_email: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an event to the trail when the session commits (and not at all if it rolls back).

    Events are linked into the chain at commit, after everything else the transaction does, so the lock on the
    chain's head is the last lock a transaction takes and is held only for the commit: no deadlock, little waiting.
    """
    row = {
        "seq": 0,
        "at": at,
        "event": event.value,
        "actor": actor,
        "request_id": request_id,
        "platform": platform,
        "target_email": target_email,
        "detail": _as_stored(detail or {}),
        "prev_hash": "",
        "hash": "",
    }
    session.info.setdefault(_PENDING, []).append(row)


_PENDING = "accessbot.audit.pending"
GENESIS = "0" * 64


def _as_stored(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail as it reads back from the JSON column, so the hash computed now matches the one verified later:
    what json.dumps(detail, default=str) would give (a datetime, say, as its str()), in orjson's time."""
    loaded = orjson.loads(orjson.dumps(detail, default=str, option=_STORED))
    assert isinstance(loaded, dict)
    return loaded


_STORED = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


_HASHED = ("seq", "event", "actor", "request_id", "platform", "target_email", "detail", "prev_hash")


def event_hash(row: AuditEvent | Mapping[str, Any]) -> str:
    """SHA-256 over the event's content and the previous event's hash, in one canonical JSON form."""
    values: Mapping[str, Any] = row if isinstance(row, Mapping) else row.model_dump()
    content = {name: values[name] for name in _HASHED}
    content["at"] = values["at"].astimezone(UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _reserve(session: Session, count: int) -> tuple[int, str]:
    """Move the chain's head on by `count` events and return where it was (its seq and hash).

    The UPDATE takes the lock (SQLite's database write lock; the head row's lock on PostgreSQL) until the
    transaction commits, so the events linked under it are the next ones in the chain for everybody.
    """
    statement = (
        update(AuditHead)
        .where(col(AuditHead.id) == 1)
        .values(seq=AuditHead.seq + count)
        .returning(col(AuditHead.seq), col(AuditHead.hash))
    )
    row = session.execute(statement).first()
    if row is None:
        raise RuntimeError("the audit_head row is missing; the schema was not created by accessbot")
    return row[0] - count, row[1]


@orm_event.listens_for(OrmSession, "before_commit")
def _chain_pending(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release; the events are linked when the whole transaction commits
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    assert isinstance(session, Session)
    seq, previous = _reserve(session, len(pending))
    for row in pending:
        seq += 1
        row["id"] = row["seq"] = seq  # the id is the place in the chain, which the hash covers
        row["prev_hash"] = previous
        row["hash"] = previous = event_hash(row)
    # One INSERT for them all, without the ORM's unit of work: nothing reads these rows back in this session.
    session.execute(insert(AuditEvent.__table__), pending)  # type: ignore[attr-defined]
    session.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(hash=previous))


@orm_event.listens_for(OrmSession, "after_transaction_end")
def _drop_pending(session: OrmSession, transaction: SessionTransaction) -> None:
    # Only when the whole transaction ends (a commit has taken them already): a savepoint rolled back inside it,
    # such as a second approval refused by its key, must not drop what the transaction recorded before.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


class ChainReport(BaseModel):
    """What `accessbot audit verify` found."""

    model_config = ConfigDict(frozen=True)

    events: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    broken_at: int | None = None  # the seq where the chain first breaks

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, *, batch: int = 1000) -> ChainReport:
    """Walk the trail in order and report the first broken link: an edited event, deleted events, or a head
    that points past the last event (the newest events deleted)."""
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    statement = select(AuditEvent).order_by(col(AuditEvent.seq)).execution_options(yield_per=batch)
    expected_seq, previous, count = 1, GENESIS, 0

    def broken(seq: int, problem: str) -> ChainReport:
        return ChainReport(events=count, head_seq=head_seq, head_hash=head_hash, problem=problem, broken_at=seq)

    for row in session.exec(statement):
        count += 1
        if row.seq != expected_seq:
            missing = f"#{expected_seq}" if row.seq == expected_seq + 1 else f"#{expected_seq} to #{row.seq - 1}"
            return broken(expected_seq, f"event {missing} is missing: deleted from the trail (next is #{row.seq})")
        if row.prev_hash != previous:
            return broken(row.seq, f"event #{row.seq} does not follow #{row.seq - 1}: the link between them is broken")
        if event_hash(row) != row.hash:
            return broken(
                row.seq,
                f"event #{row.seq} (id {row.id}, {row.event}) was edited: its content no longer matches its hash",
            )
        if row.id != row.seq:  # ids swapped between rows, or moved, would reorder what reads by id
            problem = f"event #{row.seq} has id {row.id}: an event's id is its place in the chain, so ids were changed"
            return broken(row.seq, problem)
        previous, expected_seq = row.hash, expected_seq + 1
    last = expected_seq - 1
    if head_seq != last or head_hash != previous:
        if head_seq > last:
            problem = f"events #{last + 1} to #{head_seq} are missing: the newest events were deleted"
        else:
            problem = f"the chain's head (#{head_seq}) does not match its last event (#{last}): it was edited"
        return broken(last + 1, problem)
    return ChainReport(events=count, head_seq=head_seq, head_hash=head_hash)


def events_for(*, session: Session, request_id: int) -> list[AuditEvent]:
    """A request's events in the chain's order (its `seq`, which the hashes cover; never the row id)."""
    statement = select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(col(AuditEvent.seq))
    return list(session.exec(statement))


def events_between(
    *, session: Session, since: datetime | None = None, until: datetime | None = None, batch: int = 1000
) -> Iterator[AuditEvent]:
    """Events in chain order, streamed, for exports of any size."""
    statement = select(AuditEvent).order_by(col(AuditEvent.seq)).execution_options(yield_per=batch)
    if since is not None:
        statement = statement.where(col(AuditEvent.at) >= since)
    if until is not None:
        statement = statement.where(col(AuditEvent.at) < until)
    yield from session.exec(statement)
