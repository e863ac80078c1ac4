from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from platforms.base import Platform
from platforms.sandbox import SandboxPlatform
from platforms.settings import SandboxSettings
from storage.db import make_engine
from storage.schema import ensure_schema
from tests.platforms.contract import PlatformContract, fresh_email, granted


class TestSandboxContract(PlatformContract):
    @pytest.fixture
    def platform(self, tmp_path: Path) -> Platform:
        engine = make_engine(f"sqlite:///{tmp_path}/sandbox.db")
        ensure_schema(engine)
        return SandboxPlatform("sandbox", SandboxSettings().catalog(), engine=engine, now=lambda: datetime.now(UTC))


def test_two_sandboxes_in_one_database_are_separate(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/sandbox.db")
    ensure_schema(engine)
    catalog = SandboxSettings().catalog()
    first = SandboxPlatform("sandbox", catalog, engine=engine, now=lambda: datetime.now(UTC))
    second = SandboxPlatform("sandbox-eu", catalog, engine=engine, now=lambda: datetime.now(UTC))
    email = fresh_email()
    first.apply(email, granted(first))
    assert second.get_access(email).member is False
