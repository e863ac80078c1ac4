"""Engine and session set-up for SQLite (embedded default) and PostgreSQL (several bot instances)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from sqlalchemy import DateTime, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm.util import identity_key
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps go in and come out as aware UTC datetimes, whatever the engine does with zones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str) -> Engine:
    # JSON columns (grants' parts, accounts' baselines, audit details) are written and read by the thousand when many
    # grants end together: orjson does that several times faster than the standard library, with the same values.
    codec: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        # Bolt runs listeners on a thread pool; SQLite connections are shared across those threads.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **codec)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **codec)
    event.listen(engine.pool, "checkin", _note_checkin)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


#: A pooled PostgreSQL connection unused for this long is checked before it is handed out (a server restart, an
#: idle timeout or a firewall may have closed it meanwhile). One in steady use is not: a ping on every checkout
#: would add a round trip to every session.
IDLE_BEFORE_PING = 10.0

_CHECKED_IN = "accessbot.checked_in"


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pessimistic disconnect handling, for idle connections only: a connection that fails the ping is
    replaced (the pool tries again with a new one) instead of failing the caller's first statement."""
    returned = record.info.get(_CHECKED_IN)
    if returned is None or time.monotonic() - returned < IDLE_BEFORE_PING:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise exc.DisconnectionError(f"a pooled connection idle for a while no longer answers: {error}") from error


def reading(engine: Engine) -> Session:
    """A session that only reads. On PostgreSQL its statements run without a transaction around them: under READ
    COMMITTED each statement sees what was committed when it began either way, and the BEGIN and ROLLBACK would cost
    two round trips. (SQLite's driver begins a transaction only before a write.) Use it as `with reading(e) as s:`."""
    session = Session(engine)
    if engine.dialect.name != "sqlite":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session


#: What the standard library's json.dumps does too: integer keys become strings, and a datetime is refused (a
#: value for a JSON column is made JSON-ready before it is stored).
_AS_JSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def json_text(value: Any) -> str:
    """A value of a JSON column as the text stored."""
    return orjson.dumps(value, option=_AS_JSON).decode()


def upsert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that can say what a conflict does (`on_conflict_do_nothing`, `..._do_update`), in the
    session's own dialect; PostgreSQL's is loaded only where it is used."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


T = TypeVar("T")

#: Keys per statement when many are named in one IN (...): SQLite allows some thousands of parameters.
IN_CHUNK = 500


def in_chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in lists short enough for an IN (...) on every database."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: How long a connection to a new SQLite file tries to turn it to WAL while others do the same (as its busy timeout).
WAL_SWITCH_SECONDS = 30.0


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL lets readers (the console, `accessbot requests`) run while the bot writes.
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """WAL is kept in the file, so this changes something only once, on a new file; but processes that open a new
    file at once (serve's front and worker) race for it, and SQLite answers the loser "database is locked" at once
    instead of waiting its busy timeout. So the loser tries again, until the winner is done."""
    import sqlite3  # here: loaded already on SQLite, never on PostgreSQL

    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "database is locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def expire_row(session: Session, table: Any, key: Any) -> None:
    """After an UPDATE of one row by its key: the session reads that row again when next asked for it (and only
    that one; the rest it has loaded is still what the transaction wrote or read)."""
    loaded = session.identity_map.get(identity_key(table, key))
    if loaded is not None:
        session.expire(loaded)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
