from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from domain.catalog import RoleCatalog
from platforms.heap_catalog import heap_catalog

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
    yield


@pytest.fixture
def catalogs() -> dict[str, RoleCatalog]:
    return {"heap": heap_catalog(), "sandbox": heap_catalog(projects=("production", "staging"))}
