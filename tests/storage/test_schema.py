"""Schema migrations, on SQLite and on PostgreSQL: they build exactly the models' schema, a new database is created
at start, one that is behind is refused until `accessbot db upgrade`, and data survives the upgrade."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import storage.models  # noqa: F401  (the tables, on SQLModel.metadata)
from bot.cli import main
from domain.access import AccessState
from storage.audit import (
    CHAINS,
    GENESIS,
    AuditKind,
    anchor_holds,
    event_hash,
    events_for,
    parse_anchor,
    record,
    verify_chain,
)
from storage.db import UTCDateTime, make_engine, session_scope
from storage.models import AccessRequest
from storage.schema import (
    HEAD,
    SchemaBehind,
    _config,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)
from tests.concurrency import run_at_once
from tests.fresh import printed

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


def test_the_head_this_code_needs_is_the_newest_migration() -> None:
    assert head_revision() == HEAD, f"a migration was added: set storage.schema.HEAD to {head_revision()!r}"


def on_an_up_to_date_sqlite_database(tmp_path: Path, *lines: str) -> str:
    """What `lines` print last, run in a fresh interpreter where `engine` is on an up-to-date SQLite database."""
    url = f"sqlite:///{tmp_path}/bot.db"
    ensure_schema(make_engine(url))
    return printed(
        "\n".join(["import sys", "from storage.db import make_engine", f"engine = make_engine({url!r})", *lines])
    )


def test_a_start_on_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    # Loading alembic (and mako) takes a fifth of a second, on every start, in both of serve's processes.
    found = on_an_up_to_date_sqlite_database(
        tmp_path,
        "from storage.schema import current_revision, ensure_schema",
        "ensure_schema(engine)",
        "print(current_revision(engine), 'alembic' in sys.modules)",
    )
    assert found.split() == [HEAD, "False"]


def test_on_sqlite_the_postgresql_dialect_is_never_loaded(tmp_path: Path) -> None:
    """Each of serve's processes would load it (2 MB, and a twentieth of a second of its start) for nothing."""
    found = on_an_up_to_date_sqlite_database(
        tmp_path,
        "from datetime import UTC, datetime",
        "from storage.db import session_scope",
        "from storage.deliveries import first_delivery",
        "from storage.homes import note_opened",
        "from storage.ledger import account_id, platform_claim_row",
        "from storage.locks import hold_lock",
        "import bot.bootstrap, bot.scheduler, handlers, services.sweeper",
        "now = datetime.now(UTC)",
        "with session_scope(engine) as session:",
        "    first_delivery(session=session, key='k', at=now)",
        "    note_opened(session=session, user_id='U1', at=now)",
        "    account_id(session=session, platform='sandbox', email='ana@agency.example', now=now)",
        "    platform_claim_row(session=session, platform='sandbox')",
        "    hold_lock(session=session, key='k')",
        "print('sqlalchemy.dialects.postgresql' in sys.modules)",
    )
    assert found == "False"


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
    with engine.begin() as connection:  # the columns of 0001 (the model has more now)
        connection.execute(
            text(
                "INSERT INTO access_request (verb, status, requester_id, target_email, reason, command_text, "
                "created_at, updated_at, requirements, break_glass) VALUES ('add', 'pending', 'UALICE', "
                "'ana@agency.example', 'kept across the upgrade', '', :at, :at, '{}', false)"
            ),
            {"at": NOW},
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


def test_processes_starting_at_once_on_an_empty_database_create_it_once(database_url: str) -> None:
    """Instances on PostgreSQL, or serve's worker processes on a new SQLite file: each sees the schema whole."""

    def start() -> None:
        engine = make_engine(database_url)
        try:
            ensure_schema(engine)
        finally:
            engine.dispose()

    errors = [outcome for outcome in run_at_once(4, start) if outcome is not None]
    assert errors == []
    assert current_revision(make_engine(database_url)) == head_revision()


def test_live_elevations_of_a_0002_database_become_grants_that_still_end_on_time(
    database_url: str, tmp_path: Path
) -> None:
    """Upgrading to the ledger (0003) moves every elevation in: what it holds, its end, its reminders, its
    baseline; an extension request keeps pointing at it, and at its end the revert gives back what was there."""
    engine = make_engine(database_url)
    upgrade(engine, to="0002")
    consumer = {"member": True, "account_role": "Consumer", "scopes": {}}
    elevated = {"member": True, "account_role": "Admin", "scopes": {}}
    ends = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    with engine.begin() as connection:
        for number, status in ((1, "active"), (2, "reverted")):
            connection.execute(
                text(
                    "INSERT INTO access_request (id, verb, status, requester_id, target_email, reason, command_text, "
                    "created_at, updated_at, requirements, break_glass) VALUES (:id, 'update', 'applied', 'UALICE', "
                    "'ana@agency.example', 'x', '', :at, :at, '{}', false)"
                ),
                {"id": number, "at": NOW},
            )
            connection.execute(
                text(
                    "INSERT INTO platform_change (id, request_id, platform, action, status, attempts, manual_steps, "
                    "warnings, responses, updated_at, elevation_id) VALUES (:id, :id, 'sandbox', 'grant', "
                    "'applied', 1, '[]', '[]', '[]', :at, NULL)"
                ),
                {"id": number, "at": NOW},
            )
            connection.execute(
                text(
                    "INSERT INTO revert_reminder (id, request_id, change_id, platform, target_email, revert_to, "
                    "elevated_to, fields, started_at, expires_at, remind_at, reminders_sent, status, version, "
                    "attempts, outcome, updated_at) VALUES (:id, :id, :id, 'sandbox', 'ana@agency.example', "
                    ":before, :after, :fields, :at, :ends, '[]', 0, :status, 0, 0, '{}', :at)"
                ),
                {
                    "id": number,
                    "before": json.dumps(consumer),
                    "after": json.dumps(elevated),
                    "fields": json.dumps({"account_role": {"before": "Consumer", "elevated": "Admin"}}),
                    "at": NOW,
                    "ends": ends if status == "active" else NOW,
                    "status": status,
                },
            )
        connection.execute(
            text(
                "INSERT INTO sandbox_member (platform, email, account_role, created_at) "
                "VALUES ('sandbox', 'ana@agency.example', 'Admin', :at)"
            ),
            {"at": NOW},
        )
    assert upgrade(engine) == ("0002", head_revision())

    from datetime import timedelta

    from domain.ledger import GrantState
    from services.sweeper import sweep
    from storage.models import Grant, PlatformAccount
    from tests.fakes import FakeClock
    from tests.services.desk import ANA, access, make_desk

    with Session(engine) as session:
        (account,) = session.exec(select(PlatformAccount)).all()
        assert (account.platform, account.email, account.baseline, account.due_at) == (
            "sandbox",
            ANA,
            consumer,
            ends,
        )
        grants = {grant.id: grant for grant in session.exec(select(Grant)).all()}
    assert grants[1].state == GrantState.ACTIVE.value and grants[1].parts == {"account_role": "Admin"}
    assert grants[1].before == {"account_role": "Consumer"} and grants[1].ends_at == ends
    assert grants[2].state == GrantState.ENDED.value, "history moves too"
    engine.dispose()

    desk = make_desk(tmp_path, database_url=database_url, clock=FakeClock(ends - timedelta(minutes=1)))
    assert sweep(desk.ctx).reverted == 0
    desk.clock.advance(timedelta(minutes=1))
    assert sweep(desk.ctx).reverted == 1
    assert access(desk) == AccessState(member=True, account_role="Consumer")


def write_one_chain(engine: Engine, count: int, *, ids_are_places: bool, request_id: int = 7) -> list[str]:
    """Audit events as the bot wrote them before the trail had chains, on a database at 0006 to 0011: one chain,
    ids from the table's counter before 0007 and each event's seq from 0007 on. Returns their hashes."""
    columns = ("seq", "at", "event", "actor", "request_id", "platform", "target_email", "detail", "prev_hash", "hash")
    table = sa.table(
        "audit_event", sa.column("id"), *(sa.column(name) for name in columns if name not in ("at", "detail"))
    )
    table.append_column(sa.column("at", UTCDateTime()))
    table.append_column(sa.column("detail", sa.JSON()))
    hashes, previous = [], GENESIS
    with engine.begin() as connection:
        for seq in range(1, count + 1):
            row = {"seq": seq, "at": NOW, "event": "requested", "actor": "UALICE", "request_id": request_id}
            row |= {"platform": None, "target_email": None, "detail": {"n": seq}, "prev_hash": previous}
            row["hash"] = previous = event_hash(row)
            connection.execute(sa.insert(table).values(id=seq) if ids_are_places else sa.insert(table), row)
            hashes.append(previous)
        head = {"seq": count, "hash": previous}
        connection.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), head)
    return hashes


def test_audit_events_written_before_0007_get_their_place_as_their_id_and_the_chain_stays_intact(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine, to="0006")
    write_one_chain(engine, 3, ids_are_places=False)
    with engine.begin() as connection:  # ids from the table's counter, as before: not the events' places
        connection.execute(text("UPDATE audit_event SET id = id + 40"))
    upgrade(engine, to="0007")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, seq FROM audit_event ORDER BY seq")).all() == [
            (1, 1),
            (2, 2),
            (3, 3),
        ]
    upgrade(engine)
    with Session(engine) as session:
        assert verify_chain(session).intact
    engine.dispose()


def test_the_one_chain_before_0012_becomes_chain_1_and_new_events_spread_over_the_others(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, to="0011")
    hashes = write_one_chain(engine, 3, ids_are_places=True)
    anchor_then = f"3:{hashes[-1]}"  # what `audit verify` printed before
    upgrade(engine)
    with Session(engine) as session:
        report = verify_chain(session)
        assert report.intact and report.events == 3
        assert report.heads[0].model_dump() == {"chain": 1, "seq": 3, "hash": hashes[-1]}
        anchor = parse_anchor(anchor_then)
        assert anchor is not None and anchor_holds(session, *anchor)
    with session_scope(engine) as session:  # the table's counter goes on after the ids 0007 gave
        record(session=session, event=AuditKind.APPROVED, actor="UBOB", at=NOW, request_id=7)
        record(session=session, event=AuditKind.APPROVED, actor="UBOB", at=NOW, request_id=CHAINS)
    with engine.connect() as connection:
        placed = connection.execute(text("SELECT id, chain, seq, request_id FROM audit_event ORDER BY id")).all()
    assert [tuple(row) for row in placed] == [(1, 1, 1, 7), (2, 1, 2, 7), (3, 1, 3, 7), (4, 8, 1, 7), (5, 1, 4, CHAINS)]
    with Session(engine) as session:
        assert verify_chain(session).intact
        assert [event.place for event in events_for(session=session, request_id=7)] == ["1.1", "1.2", "1.3", "8.1"]
    engine.dispose()


def downgrade(engine: Engine, to: str) -> None:
    """What `alembic downgrade` does (accessbot offers no command for it: going back is by hand)."""
    with engine.begin() as connection:
        command.downgrade(_config(connection), to)


def test_going_back_before_0012_refuses_a_trail_that_uses_more_than_chain_1(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        record(session=session, event=AuditKind.APPROVED, actor="UBOB", at=NOW, request_id=CHAINS)
    downgrade(engine, "0011")
    assert current_revision(engine) == "0011"
    upgrade(engine)
    with session_scope(engine) as session:
        record(session=session, event=AuditKind.APPROVED, actor="UBOB", at=NOW, request_id=1)
    with pytest.raises(RuntimeError, match="1 audit events are in chains 2 to 16"):
        downgrade(engine, "0011")
    assert current_revision(engine) == HEAD
    engine.dispose()
