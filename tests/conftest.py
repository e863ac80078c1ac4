from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from domain.catalog import RoleCatalog
from platforms.heap_catalog import heap_catalog


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
