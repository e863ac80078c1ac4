"""Maps a platform's configured `type:` to the client that serves it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.catalog import RoleCatalog
from platforms.base import Platform, PlatformContext, PlatformSettings
from platforms.settings import ChartbeatSettings, HeapSettings, SandboxSettings, ScimSettings

__all__ = ["PLATFORM_TYPES", "PlatformContext", "build_platforms"]


# Each factory loads its client only when a platform of its type is configured.


def _sandbox(name: str, settings: Any, context: PlatformContext) -> Platform:
    from platforms.sandbox import SandboxPlatform

    assert isinstance(settings, SandboxSettings)
    return SandboxPlatform(
        name, settings.catalog(), engine=context.engine, now=context.now, latency=settings.latency_seconds
    )


def _scim(name: str, settings: Any, context: PlatformContext) -> Platform:
    from platforms.scim import ScimPlatform

    assert isinstance(settings, ScimSettings)
    return ScimPlatform(
        name,
        settings.catalog(),
        settings.http(name, shared=context),
        role_attribute=settings.role_attribute,
        groups=settings.groups,
        invitation_days=settings.invitation_days,
    )


def _heap(name: str, settings: Any, context: PlatformContext) -> Platform:
    assert isinstance(settings, HeapSettings)
    if settings.manual:
        from platforms.heap_manual import HeapManualPlatform

        return HeapManualPlatform(name, settings, engine=context.engine, now=context.now)
    from platforms.heap import HeapPlatform

    return HeapPlatform(name, settings, settings.http(name, shared=context))


def _chartbeat(name: str, settings: Any, context: PlatformContext) -> Platform:
    from platforms.chartbeat import ChartbeatPlatform

    assert isinstance(settings, ChartbeatSettings)
    return ChartbeatPlatform(
        name, settings, settings.http(name, shared=context), engine=context.engine, now=context.now
    )


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
        platforms[name].concurrency = settings.concurrency
    return platforms


def catalogs_of(platforms: Mapping[str, Platform]) -> dict[str, RoleCatalog]:
    return {name: platform.catalog for name, platform in platforms.items()}
