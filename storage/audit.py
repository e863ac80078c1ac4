"""The append-only audit trail: insert and read, nothing else, in hash chains that show any edit or deletion.

The trail is `CHAINS` chains side by side, so that transactions about unrelated requests do not queue on one head row;
a request's events are all in one chain (`chain_of`). Each event's hash covers its content, its place in its chain
(`seq`) and the previous event's hash. Editing an event changes its hash; deleting one leaves a gap in `seq` and a
link that points nowhere; moving one to another chain breaks both; deleting the newest ones leaves the chain's
`audit_head` row pointing past the end. Someone able to rewrite the whole table and the heads could forge consistent
chains, so `accessbot audit verify` prints an anchor over every head for auditors to keep elsewhere, and checks one
kept earlier (`--anchor`).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
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

#: How many chains the trail has (their heads are rows 1 to CHAINS of `audit_head`, made by the migrations). Events
#: written before there were chains are all in chain 1.
CHAINS = 16


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

    Events are linked into their chains at commit, after everything else the transaction does, so the locks on the
    chains' heads are the last locks a transaction takes (in ascending order) and are held only for the commit: no
    deadlock, little waiting.
    """
    row = {
        "chain": chain_of(request_id, target_email),
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


def chain_of(request_id: int | None, target_email: str | None) -> int:
    """The chain an event goes in: its request's, so a request's events stay in one line; else its person's."""
    if request_id is not None:
        return 1 + request_id % CHAINS
    if target_email:
        return 1 + zlib.crc32(target_email.encode("utf-8")) % CHAINS
    return 1


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


def _reserve(session: Session, chain: int, count: int) -> tuple[int, str]:
    """Move a chain's head on by `count` events and return where it was (its seq and hash).

    The UPDATE takes the lock (SQLite's database write lock; the head row's lock on PostgreSQL) until the
    transaction commits, so the events linked under it are the next ones in that chain for everybody.
    """
    statement = (
        update(AuditHead)
        .where(col(AuditHead.id) == chain)
        .values(seq=AuditHead.seq + count)
        .returning(col(AuditHead.seq), col(AuditHead.hash))
    )
    row = session.execute(statement).first()
    if row is None:
        raise RuntimeError(f"audit chain {chain} has no audit_head row; run `accessbot db upgrade`")
    return row[0] - count, row[1]


@orm_event.listens_for(OrmSession, "before_commit")
def _chain_pending(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release; the events are linked when the whole transaction commits
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    assert isinstance(session, Session)
    by_chain: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in pending:
        by_chain[row["chain"]].append(row)
    # The heads in ascending order: two transactions that both write to chains 3 and 9 lock 3 first, so neither
    # holds one head while waiting for the other's.
    for chain in sorted(by_chain):
        rows = by_chain[chain]
        seq, previous = _reserve(session, chain, len(rows))
        for row in rows:
            seq += 1
            row["seq"] = seq
            row["prev_hash"] = previous
            row["hash"] = previous = event_hash(row)
        session.execute(update(AuditHead).where(col(AuditHead.id) == chain).values(hash=previous))
    # One INSERT for them all, without the ORM's unit of work: nothing reads these rows back in this session.
    session.execute(insert(AuditEvent.__table__), pending)  # type: ignore[attr-defined]


@orm_event.listens_for(OrmSession, "after_transaction_end")
def _drop_pending(session: OrmSession, transaction: SessionTransaction) -> None:
    # Only when the whole transaction ends (a commit has taken them already): a savepoint rolled back inside it,
    # such as a second approval refused by its key, must not drop what the transaction recorded before.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


class ChainHead(BaseModel):
    """Where one chain ends: its newest event's place and hash (seq 0 and GENESIS for a chain with no events)."""

    model_config = ConfigDict(frozen=True)

    chain: int
    seq: int
    hash: str


class ChainReport(BaseModel):
    """What `accessbot audit verify` found."""

    model_config = ConfigDict(frozen=True)

    events: int
    heads: tuple[ChainHead, ...]
    problem: str | None = None
    broken_chain: int | None = None  # where the trail first breaks: the chain, and the seq in it
    broken_at: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    @property
    def anchor(self) -> str:
        """Every head in one line, `S1.S2...:DIGEST`: each chain's newest seq, and a digest of their hashes."""
        return format_anchor(self.heads)


def format_anchor(heads: Sequence[ChainHead]) -> str:
    return ".".join(str(head.seq) for head in heads) + ":" + anchor_digest([head.hash for head in heads])


def anchor_digest(hashes: Sequence[str]) -> str:
    """What an anchor's hashes come to. One hash is itself: anchors printed before the trail had chains name one
    event of chain 1, and still check."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest()


def parse_anchor(text: str) -> tuple[tuple[int, ...], str] | None:
    """The seqs and digest of an anchor as `format_anchor` writes it, or None if it is not one."""
    seqs, _, digest = text.partition(":")
    numbers = seqs.split(".")
    if not all(number.isascii() and number.isdigit() for number in numbers) or len(numbers) > CHAINS:
        return None
    if len(digest) != 64 or not all(char in "0123456789abcdef" for char in digest.lower()):
        return None
    return tuple(int(number) for number in numbers), digest.lower()


def anchor_holds(session: Session, seqs: Sequence[int], digest: str) -> bool:
    """Whether the events an anchor names (chain 1's at its first seq, chain 2's at the second...) are still there,
    with the hashes they had when it was printed: the trail up to them was not rewritten since."""
    hashes = []
    for chain, seq in enumerate(seqs, start=1):
        if seq == 0:
            hashes.append(GENESIS)
            continue
        statement = select(AuditEvent.hash).where(AuditEvent.chain == chain, AuditEvent.seq == seq)
        found = session.exec(statement).first()
        if found is None:
            return False
        hashes.append(found)
    return anchor_digest(hashes) == digest


def verify_chain(session: Session, *, batch: int = 1000) -> ChainReport:
    """Walk every chain in order and report the first broken link: an edited event, deleted events, a head that
    points past its chain's last event (the newest events deleted), or a chain's head deleted."""
    rows = session.exec(select(AuditHead))
    stored = {row.id: ChainHead(chain=row.id, seq=row.seq, hash=row.hash) for row in rows}
    heads = tuple(stored.get(chain, ChainHead(chain=chain, seq=0, hash=GENESIS)) for chain in range(1, CHAINS + 1))
    count = 0
    headless = session.exec(select(AuditEvent.chain).where(col(AuditEvent.chain).not_in(list(stored)))).first()
    if headless is not None:
        problem = f"chain {headless} has events but no head: its audit_head row was deleted"
        return ChainReport(events=count, heads=heads, problem=problem, broken_chain=headless, broken_at=1)
    for head in heads:
        if head.chain not in stored:
            problem = f"chain {head.chain} has no head: its audit_head row was deleted"
            return ChainReport(events=count, heads=heads, problem=problem, broken_chain=head.chain, broken_at=1)
        walked, found = _walk(session, head, batch)
        count += walked
        if found is not None:
            seq, problem = found
            return ChainReport(events=count, heads=heads, problem=problem, broken_chain=head.chain, broken_at=seq)
    return ChainReport(events=count, heads=heads)


def _walk(session: Session, head: ChainHead, batch: int) -> tuple[int, tuple[int, str] | None]:
    """How many events one chain has, and where and how it first breaks (None if it does not)."""
    statement = (
        select(AuditEvent)
        .where(AuditEvent.chain == head.chain)
        .order_by(col(AuditEvent.seq))
        .execution_options(yield_per=batch)
    )
    chain, expected, previous, count = head.chain, 1, GENESIS, 0
    for row in session.exec(statement):
        count += 1
        if row.seq != expected:
            gap = f"#{chain}.{expected}" + (f" to #{chain}.{row.seq - 1}" if row.seq > expected + 1 else "")
            return count, (expected, f"event {gap} is missing: deleted from the trail (next is #{row.place})")
        if row.prev_hash != previous:
            return count, (row.seq, f"event #{row.place} does not follow #{chain}.{row.seq - 1}: the link is broken")
        if event_hash(row) != row.hash:
            return count, (row.seq, f"event #{row.place} ({row.event}) was edited: its content no longer matches")
        previous, expected = row.hash, expected + 1
    last = expected - 1
    if head.seq > last:
        gap = f"#{chain}.{last + 1}" + (f" to #{chain}.{head.seq}" if head.seq > last + 1 else "")
        return count, (last + 1, f"event {gap} {'are' if 'to' in gap else 'is'} missing: the newest were deleted")
    if head.seq != last or head.hash != previous:
        return count, (last + 1, f"chain {chain}'s head (#{head.seq}) does not match its last event: it was edited")
    return count, None


def events_for(*, session: Session, request_id: int) -> list[AuditEvent]:
    """A request's events in their chain's order (its `seq`, which the hashes cover; never the row id).

    A request's events are in one chain, but for a request that was open when the trail got its chains: its earlier
    events are in chain 1, which sorts first.
    """
    statement = (
        select(AuditEvent)
        .where(AuditEvent.request_id == request_id)
        .order_by(col(AuditEvent.chain), col(AuditEvent.seq))
    )
    return list(session.exec(statement))


def events_between(
    *, session: Session, since: datetime | None = None, until: datetime | None = None, batch: int = 1000
) -> Iterator[AuditEvent]:
    """Events chain by chain, each in its chain's order, streamed, for exports of any size."""
    order = (col(AuditEvent.chain), col(AuditEvent.seq))
    statement = select(AuditEvent).order_by(*order).execution_options(yield_per=batch)
    if since is not None:
        statement = statement.where(col(AuditEvent.at) >= since)
    if until is not None:
        statement = statement.where(col(AuditEvent.at) < until)
    yield from session.exec(statement)
