"""Maps a platform's configured `type:` to the client that serves it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from domain.catalog import RoleCatalog
from platforms.base import Platform, PlatformSettings
from platforms.chartbeat import ChartbeatPlatform, ChartbeatSettings
from platforms.heap import HeapPlatform, HeapSettings
from platforms.sandbox import SandboxPlatform, SandboxSettings
from platforms.scim import ScimPlatform, ScimSettings


@dataclass(frozen=True)
class PlatformContext:
    """What clients may need from the composition root."""

    engine: Engine
    now: Callable[[], datetime]


def _sandbox(name: str, settings: Any, context: PlatformContext) -> Platform:
    assert isinstance(settings, SandboxSettings)
    return SandboxPlatform(
        name, settings.catalog(), engine=context.engine, now=context.now, latency=settings.latency_seconds
    )


def _scim(name: str, settings: Any, context: PlatformContext) -> Platform:
    assert isinstance(settings, ScimSettings)
    return ScimPlatform(
        name, settings.catalog(), settings.http(name), role_attribute=settings.role_attribute, groups=settings.groups
    )


def _heap(name: str, settings: Any, context: PlatformContext) -> Platform:
    assert isinstance(settings, HeapSettings)
    return HeapPlatform(name, settings, settings.http(name))


def _chartbeat(name: str, settings: Any, context: PlatformContext) -> Platform:
    assert isinstance(settings, ChartbeatSettings)
    return ChartbeatPlatform(name, settings, settings.http(name), engine=context.engine, now=context.now)


PLATFORM_TYPES: dict[str, Callable[[str, Any, PlatformContext], Platform]] = {
    "sandbox": _sandbox,
    "scim": _scim,
    "heap": _heap,
    "chartbeat": _chartbeat,
}


def build_platforms(configured: Mapping[str, PlatformSettings], context: PlatformContext) -> dict[str, Platform]:
    platforms: dict[str, Platform] = {}
    for name, settings in configured.items():
        factory = PLATFORM_TYPES.get(settings.type)
        if factory is None:
            raise ValueError(
                f"platform {name!r} has unknown type {settings.type!r}; known: {', '.join(PLATFORM_TYPES)}"
            )
        platforms[name] = factory(name, settings, context)
    return platforms


def catalogs_of(platforms: Mapping[str, Platform]) -> dict[str, RoleCatalog]:
    return {name: platform.catalog for name, platform in platforms.items()}
