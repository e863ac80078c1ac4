"""The database schema's version: migrations (alembic) for SQLite and PostgreSQL, and the check at start-up.

A new, empty database is brought to the current schema at start-up, so the embedded default needs no set-up. A
database that has a schema but an older one is refused with the command that upgrades it: an upgrade is a decision
for whoever runs the bot (a backup first, every instance stopped or compatible), not something to do silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration in storage/migrations/versions: what this code needs. A test holds it to alembic's own head,
#: so that a start on an up-to-date database (every start but the first) need not load alembic at all.
HEAD = "0012"
UPGRADE_COMMAND = "accessbot db upgrade"
# Serialises migrations between bot processes starting at once on one PostgreSQL database.
_MIGRATION_LOCK = 4_276_153_001


class SchemaBehind(Exception):
    """The database's schema is older than this version of the bot (or was not made by it)."""


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "storage:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The head of the migrations, as alembic reads it from their files."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "storage/migrations has no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _current(connection)


def _current(connection: Connection) -> str | None:
    """The database's revision, from the table alembic keeps it in (None before the first migration)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise SchemaBehind(f"the database has several schema revisions at once ({', '.join(sorted(found))})")
    return str(found[0]) if found else None


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            # The write lock before the schema is read: SQLite runs each CREATE on its own otherwise, so a second
            # process starting on a new file (serve's workers) saw some tables and took them for another program's.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


def upgrade(engine: Engine, to: str = "head") -> tuple[str | None, str]:
    """Apply the migrations the database lacks (up to `to`); returns the revisions before and after."""
    from alembic import command

    with _migration_lock(engine) as connection:
        before = _current(connection)
        if before is None and _has_tables(connection):
            raise SchemaBehind(
                "this database has tables but no schema version, so accessbot cannot tell what it holds. Point "
                "ACCESSBOT_DATABASE_URL at an empty database (or the one accessbot created)."
            )
        command.upgrade(_config(connection), to)
        after = _current(connection)
    assert after is not None
    return before, after


def ensure_schema(engine: Engine) -> None:
    """At start-up: create the schema in an empty database; refuse one that is behind."""
    head = HEAD
    with _migration_lock(engine) as connection:
        current = _current(connection)
        if current == head:
            return
        if current is None and not _has_tables(connection):
            from alembic import command

            command.upgrade(_config(connection), head)
            return
    raise SchemaBehind(
        f"the database schema is at revision {current or 'none (tables made by something else)'}, and this version "
        f"of accessbot needs {head}. Back the database up, then run `{UPGRADE_COMMAND}` (with the same "
        "ACCESSBOT_DATABASE_URL) and start the bot again."
    )


def _has_tables(connection: Connection) -> bool:
    return bool(set(inspect(connection).get_table_names()) - {"alembic_version"})
