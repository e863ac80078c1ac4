"""The work behind `/access`."""

from handlers.answers import Listener
from handlers.commands import access
from services.context import ServiceContext


def works(ctx: ServiceContext) -> list[Listener]:
    return access.works(ctx)
