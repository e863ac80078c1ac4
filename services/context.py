"""Everything a service function needs, built once by the composition root."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from domain.catalog import RoleCatalog
from platforms.base import Platform, PlatformSettings
from services.ports import Clock, Directory, Notifier
from services.views import RequestView, request_view
from storage.requests import changes_of, get_request

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
    catalogs: Mapping[str, RoleCatalog] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalogs", {name: p.catalog for name, p in self.platforms.items()})

    def view(self, session: Session, request_id: int) -> RequestView | None:
        request = get_request(session=session, request_id=request_id)
        if request is None:
            return None
        return request_view(request, changes_of(session=session, request_id=request_id), self.settings, self.catalogs)

    def load_view(self, request_id: int) -> RequestView | None:
        with Session(self.engine) as session:
            return self.view(session, request_id)
