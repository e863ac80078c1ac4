"""Alembic's entry point. accessbot runs migrations itself (storage.schema), always on a connection it opened."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `accessbot db upgrade`, which opens the configured database")


def render_item(kind: str, item: Any, _context: Any) -> str | Literal[False]:
    """How autogenerate writes SQLModel's string type (the revision template imports AutoString)."""
    if kind == "type" and isinstance(item, AutoString):
        return "AutoString()"
    return False


context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_item=render_item,
    # SQLite changes most columns by copying the table; batch mode does that for every ALTER.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
