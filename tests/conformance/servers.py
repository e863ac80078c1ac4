"""SCIM servers written by others, started by the tests on loopback ports, and clients configured for them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from platforms.base import PlatformContext
from platforms.registry import build_platforms
from platforms.scim import ScimPlatform
from platforms.settings import ScimSettings
from storage.db import make_engine

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
GROUPS = {
    "production": {"Admin": "production-admins", "Viewer": "production-viewers"},
    "staging": {"Admin": "staging-admins", "Viewer": "staging-viewers"},
}


@contextmanager
def serving(command: Sequence[str], *, token: str, path: str = "/scim/v2/") -> Iterator[str]:
    """Start a server that prints `listening <port>` once it answers; yields its SCIM base URL, with the mapped
    groups created, and ends it afterwards."""
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until it listens, or ends
        assert line.startswith("listening "), f"{command[0]} did not start: {line}{process.stdout.read()}"
        url = f"http://127.0.0.1:{line.split()[1]}{path}"
        with admin(url, token) as scim:
            for roles in GROUPS.values():
                for group in roles.values():
                    scim.post("Groups", json={"schemas": [GROUP_SCHEMA], "displayName": group}).raise_for_status()
        yield url
    finally:
        process.terminate()
        process.wait(30)


def admin(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def client(name: str, url: str, token: str, **settings: Any) -> ScimPlatform:
    configured = ScimSettings.model_validate({"base_url": url, "token": token, "groups": GROUPS, **settings})
    context = PlatformContext(engine=make_engine("sqlite://"), now=lambda: datetime.now(UTC))
    platform = build_platforms({name: configured}, context)[name]
    assert isinstance(platform, ScimPlatform)
    return platform


def group_members(url: str, token: str) -> Mapping[str, list[str]]:
    """Each group's displayName and its members' ids, as the server has them."""
    with admin(url, token) as scim:
        groups = scim.get("Groups").json()["Resources"]
    return {group["displayName"]: [member["value"] for member in group.get("members") or []] for group in groups}
