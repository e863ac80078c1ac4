"""An audit event's id is its place in the chain (`seq`), which the event's hash covers; `audit verify` checks it.

Events written before had ids from the table's own counter. The hashes never covered ids, so renumbering them
leaves every link intact. Through negative numbers, so that no two rows hold one id between the two statements.

Revision ID: 0007
Revises: 0006
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE audit_event SET id = -seq WHERE id <> seq")
    op.execute("UPDATE audit_event SET id = -id WHERE id < 0")


def downgrade() -> None:
    """Nothing to undo: ids equal to `seq` are valid ids for the schema before."""
