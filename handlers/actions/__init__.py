"""The work behind the buttons: on approval cards, reminders, manual tasks and access reviews."""

from handlers.actions import approve, deny, extend, reminder, retry, review, task_done, task_resent
from handlers.answers import Listener
from services.context import ServiceContext


def works(ctx: ServiceContext) -> list[Listener]:
    modules = (approve, deny, retry, extend, reminder, task_done, task_resent, review)
    return [work for module in modules for work in module.works(ctx)]
