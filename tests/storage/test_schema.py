"""Schema migrations, on SQLite and on PostgreSQL: they build exactly the models' schema, a new database is created
at start, one that is behind is refused until `accessbot db upgrade`, and data survives the upgrade."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

import storage.models  # noqa: F401  (the tables, on SQLModel.metadata)
from bot.cli import main
from storage.audit import AuditKind, record, verify_chain
from storage.db import make_engine, session_scope
from storage.models import AccessRequest
from storage.schema import SchemaBehind, current_revision, ensure_schema, head_revision, upgrade

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def test_migrations_build_exactly_the_schema_the_models_describe(database_url: str) -> None:
    engine = make_engine(database_url)
    ensure_schema(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == [], "a model changed without a migration: add one under storage/migrations/versions"
    assert current_revision(engine) == head_revision()
    with Session(engine) as session:
        assert verify_chain(session).intact  # the chain's head row is there from the first migration


def test_a_new_database_is_created_at_start_and_a_second_start_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    ensure_schema(engine)
    with session_scope(engine) as session:
        record(session=session, event=AuditKind.REQUESTED, actor="UALICE", at=NOW)
    ensure_schema(engine)
    with Session(engine) as session:
        assert verify_chain(session).events == 1


def test_a_database_behind_is_refused_until_upgraded_and_keeps_its_data(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(database_url)
    assert upgrade(engine, to="0001") == (None, "0001")
    with session_scope(engine) as session:
        session.add(
            AccessRequest(
                verb="add",
                status="pending",
                requester_id="UALICE",
                target_email="ana@agency.example",
                reason="kept across the upgrade",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    with pytest.raises(SchemaBehind, match="run `accessbot db upgrade`"):
        ensure_schema(engine)

    (tmp_path / "accessbot.yml").write_text(json.dumps({"database_url": database_url}))
    monkeypatch.setenv("ACCESSBOT_CONFIG", str(tmp_path / "accessbot.yml"))
    assert main(["requests"]) == 2
    assert "accessbot db upgrade" in capsys.readouterr().err
    assert main(["db", "status"]) == 1
    assert "schema 0001" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"database schema: 0001 -> {head_revision()}" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "already at" in capsys.readouterr().out

    ensure_schema(engine)
    with Session(engine) as session:
        (kept,) = session.exec(select(AccessRequest)).all()
    assert kept.reason == "kept across the upgrade"


def test_tables_made_by_something_else_are_not_taken_over(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaBehind, match="tables made by something else"):
        ensure_schema(engine)
    with pytest.raises(SchemaBehind, match="has tables but no schema version"):
        upgrade(engine)


def test_instances_starting_at_once_on_an_empty_postgresql_database_migrate_it_once(postgres_url: str) -> None:
    database_url = postgres_url
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        engine = make_engine(database_url)
        barrier.wait()
        try:
            ensure_schema(engine)
        except BaseException as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(make_engine(database_url)) == head_revision()
