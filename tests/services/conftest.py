from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.platforms.test_scim import GROUPS
from tests.scim_server import ScimServer, running
from tests.services.desk import Desk, make_desk


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return make_desk(tmp_path)


@pytest.fixture
def scim_server() -> Iterator[ScimServer]:
    """A real SCIM server (scim2-server) on a loopback port, with the groups of tests.platforms.test_scim."""
    with running(GROUPS) as scim:
        yield scim
