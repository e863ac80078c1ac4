"""The work behind submitted forms."""

from handlers.answers import Listener
from handlers.views import deny_form, extend_form, request_form, task_form
from services.context import ServiceContext


def works(ctx: ServiceContext) -> list[Listener]:
    return [work for module in (deny_form, request_form, extend_form, task_form) for work in module.works(ctx)]
