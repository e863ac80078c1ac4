from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from domain.catalog import RoleCatalog
from platforms.heap_catalog import heap_catalog
from tests.postgres import PostgresServer, PostgresUnavailable

# Example timing varies on shared two-core CI machines; correctness, not speed, is what these properties check.
# Registering the profile here also imports hypothesis before any test starts a thread: Python 3.11 can raise a
# spurious "AST constructor recursion depth mismatch" when pytest's import rewriting parses a module while other
# threads run (CPython gh-106905), and hypothesis's plugin would otherwise import it lazily at the session's end.
settings.register_profile("accessbot", deadline=None)
settings.load_profile("accessbot")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings read the environment first; a developer's own tokens or config must not leak into tests."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "ACCESSBOT_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    # The CLI points logging at the stderr pytest captures for that one test; later threads must not write there.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def catalogs() -> dict[str, RoleCatalog]:
    return {"heap": heap_catalog(), "sandbox": heap_catalog(projects=("production", "staging"))}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server, started once. A machine where it cannot be installed fails these tests, loudly."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes this runs on the embedded default and on PostgreSQL, each time a new empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/accessbot.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A new, empty PostgreSQL database, for what only PostgreSQL does (several bot processes on one database)."""
    return postgres.create_database()
