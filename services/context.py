"""Everything a service function needs, built once by the composition root."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from domain.catalog import RoleCatalog
from domain.policy import PolicyConfig
from platforms.base import Platform, PlatformSettings
from services.leases import LeaseKeeper
from services.ports import Clock, Directory, Notifier, Timers
from services.settings import ElevationSettings, RemovalSettings, ReviewSettings, TaskSettings
from services.views import RequestView, load_views
from storage.db import reading
from storage.requests import get_request

logger = logging.getLogger("accessbot.services")


class RequestRefused(Exception):
    """A request that cannot be made as asked; the message tells the requester why and what to do instead."""


@dataclass(frozen=True)
class ServiceContext:
    engine: Engine
    platforms: Mapping[str, Platform]
    settings: Mapping[str, PlatformSettings]
    directory: Directory
    notifier: Notifier
    clock: Clock
    elevation_settings: ElevationSettings = field(default_factory=lambda: ElevationSettings())
    task_settings: TaskSettings = field(default_factory=lambda: TaskSettings())
    removal_settings: RemovalSettings = field(default_factory=lambda: RemovalSettings())
    review_settings: ReviewSettings = field(default_factory=lambda: ReviewSettings())
    policy: PolicyConfig = field(default_factory=lambda: PolicyConfig())
    timers: Timers | None = None
    catalogs: Mapping[str, RoleCatalog] = field(init=False)
    leases: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalogs", {name: p.catalog for name, p in self.platforms.items()})
        lease = timedelta(seconds=self.elevation_settings.lease_seconds)
        object.__setattr__(self, "leases", LeaseKeeper(self.engine, self.clock, lease))

    def view(self, session: Session, request_id: int) -> RequestView | None:
        request = get_request(session=session, request_id=request_id)
        if request is None:
            return None
        return load_views(session, [request], self.settings, self.catalogs)[request_id]

    def load_view(self, request_id: int) -> RequestView | None:
        with reading(self.engine) as session:
            return self.view(session, request_id)
