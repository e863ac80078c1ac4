"""Connections. PostgreSQL: a pooled one the server dropped while it sat idle is replaced before anyone uses it, and
sessions that only read run without a transaction around them. SQLite: processes opening a new file at once all
get it in WAL mode."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from storage import db
from storage.db import make_engine, reading
from storage.schema import ensure_schema
from tests.concurrency import run_at_once
from tests.postgres import PostgresServer


def drop_connections(server: PostgresServer, database: str) -> int:
    """What a server restart or an idle timeout does to the bot's connections; returns how many it ended."""
    admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(ended)


def test_a_connection_dropped_while_idle_is_replaced_before_it_is_used(
    postgres: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(postgres_url)
    try:
        with Session(engine) as session:
            assert session.exec(text("SELECT 1")).scalar_one() == 1  # type: ignore[call-overload]
        assert drop_connections(postgres, engine.url.database or "") == 1
        monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)  # the pooled connection has been idle long enough
        with Session(engine) as session:
            assert session.exec(text("SELECT 2")).scalar_one() == 2  # type: ignore[call-overload]
    finally:
        engine.dispose()


#: The transaction the statement runs in (its virtual id, which every transaction has, even one that only reads).
TRANSACTION = text(
    "SELECT virtualtransaction FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'virtualxid' "
    "AND virtualxid = virtualtransaction"
)


def test_a_reading_session_runs_each_statement_on_its_own_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with reading(engine) as session:
            first, second = (session.exec(TRANSACTION).scalar_one() for _ in range(2))  # type: ignore[call-overload]
        assert first != second, "the reads ran in one transaction (a BEGIN and a ROLLBACK for nothing)"
        with Session(engine) as session:
            first, second = (session.exec(TRANSACTION).scalar_one() for _ in range(2))  # type: ignore[call-overload]
        assert first == second, "an ordinary session keeps its statements in one transaction"
    finally:
        engine.dispose()


def test_processes_starting_at_once_on_new_sqlite_files_all_get_them_in_wal_mode(tmp_path: Path) -> None:
    """serve's front and worker open a new file together and one creates the schema; SQLite refused the switch to
    WAL to a connection opened meanwhile ("database is locked", without waiting its busy timeout). Ten new files,
    four starts on each."""
    for attempt in range(10):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.db'}"
        outcomes = run_at_once(4, partial(start, url))
        assert outcomes == ["wal"] * 4


def start(url: str) -> str:
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("PRAGMA journal_mode").scalar_one())
    finally:
        engine.dispose()
