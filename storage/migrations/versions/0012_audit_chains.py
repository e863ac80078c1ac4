"""The audit trail becomes sixteen hash chains side by side, so unrelated requests do not queue on one head row.

Every event so far stays where it is, in chain 1: its `seq` and links are unchanged, so it still verifies, and an
anchor printed before (one `SEQ:HASH`) names an event of chain 1. Chains 2 to 16 start empty. An event's place is
now its chain and `seq`; its id comes from the table's counter again, which on PostgreSQL is moved past the ids
0007 gave.

Revision ID: 0012
Revises: 0011
Created: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAINS = 16  # storage.audit.CHAINS when this was written; a migration keeps its own copy
GENESIS = "0" * 64

# SQLite's unique constraint on seq has no name (0001 made it without one): batch mode names it by this.
NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_event", naming_convention=NAMES) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.Integer(), nullable=False, server_default="1"))
        batch_op.drop_constraint("audit_event_seq_key" if postgresql else "uq_audit_event_seq", type_="unique")
        batch_op.create_unique_constraint("uq_audit_event_chain_seq", ["chain", "seq"])
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.alter_column("chain", server_default=None)
    heads = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer), sa.column("hash"))
    op.bulk_insert(heads, [{"id": chain, "seq": 0, "hash": GENESIS} for chain in range(2, CHAINS + 1)])
    if postgresql:
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_event', 'id'), COALESCE(MAX(id), 0) + 1, false) "
            "FROM audit_event"
        )


def downgrade() -> None:
    """Only a trail whose events are all still in chain 1 can go back to one chain: the others' seqs overlap it."""
    others = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM audit_event WHERE chain <> 1")).scalar()
    if others:
        raise RuntimeError(f"{others} audit events are in chains 2 to {CHAINS}; one chain cannot hold them in order")
    op.execute("DELETE FROM audit_head WHERE id > 1")
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_event", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint("uq_audit_event_chain_seq", type_="unique")
        batch_op.create_unique_constraint("audit_event_seq_key" if postgresql else "uq_audit_event_seq", ["seq"])
        batch_op.drop_column("chain")
