"""The rows of the accounts a reconcile step works on, held and loaded once per transaction.

Planning and recording read these rows and change them in memory; the session's unit of work writes every change
at commit, several rows of a table in one statement. So a step costs the same few queries for one account or for
a batch of a thousand, and both go through the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from domain.ledger import GrantState
from domain.lifecycle import ChangeStatus
from storage.ledger import Claim
from storage.models import Grant, PlatformAccount, PlatformChange


@dataclass
class Books:
    session: Session
    accounts: dict[int, PlatformAccount]
    grants: dict[int, list[Grant]] = field(default_factory=dict)  # by account, in the order they were planned
    awaiting: dict[int, list[PlatformChange]] = field(default_factory=dict)  # changes waiting for manual steps

    @classmethod
    def hold(cls, session: Session, claims: Sequence[Claim]) -> Books:
        """Lock the accounts these claims still hold until the transaction ends, and load them with their grants.
        An account whose claim was taken over meanwhile is left out: nothing may be recorded about it."""
        if not claims:
            return cls(session=session, accounts={})
        # A write first: it takes the accounts' row locks on PostgreSQL and the write lock on SQLite, so that no other
        # worker can move a fence between this check and the commit.
        session.connection().execute(
            update(PlatformAccount)
            .where(col(PlatformAccount.id) == bindparam("key"), col(PlatformAccount.fence) == bindparam("held"))
            .values(fence=PlatformAccount.fence),
            [{"key": claim.key, "held": claim.fence} for claim in claims],
        )
        fences = {int(claim.key): claim.fence for claim in claims}
        rows = session.exec(select(PlatformAccount).where(col(PlatformAccount.id).in_(list(fences)))).all()
        held = {row.id: row for row in rows if row.id is not None and row.fence == fences[row.id]}
        books = cls(session=session, accounts=held)
        books.load(books.accounts)
        return books

    def load(self, account_ids: Iterable[int]) -> None:
        ids = list(account_ids)
        if not ids:
            return
        statement = (
            select(Grant)
            .where(
                col(Grant.account_id).in_(ids),
                col(Grant.state).in_([GrantState.APPLYING.value, GrantState.ACTIVE.value, GrantState.ENDING.value]),
            )
            .order_by(col(Grant.seq))
        )
        for account_id in ids:
            self.grants.setdefault(account_id, [])
            self.awaiting.setdefault(account_id, [])
        for grant in self.session.exec(statement):
            self.grants[grant.account_id].append(grant)
        waiting = select(PlatformChange).where(
            col(PlatformChange.account_id).in_(ids), PlatformChange.status == ChangeStatus.AWAITING_MANUAL.value
        )
        for change in self.session.exec(waiting):
            assert change.account_id is not None
            self.awaiting[change.account_id].append(change)

    def of(self, account_id: int, *states: GrantState) -> list[Grant]:
        """The account's grants in these states (those loaded: applying, active, ending), oldest first."""
        wanted = {state.value for state in states}
        return [grant for grant in self.grants.get(account_id, []) if grant.state in wanted]

    def of_change(self, account_id: int, change_id: int) -> list[Grant]:
        return [grant for grant in self.grants.get(account_id, []) if grant.change_id == change_id]

    def add(self, grant: Grant) -> Grant:
        self.session.add(grant)
        self.session.flush()
        self.grants.setdefault(grant.account_id, []).append(grant)
        return grant
