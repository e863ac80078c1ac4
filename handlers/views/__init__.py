from slack_bolt import App

from handlers.views import deny_form, extend_form, request_form, task_form
from services.context import ServiceContext


def register(app: App, ctx: ServiceContext) -> None:
    deny_form.register(app, ctx)
    request_form.register(app, ctx)
    extend_form.register(app, ctx)
    task_form.register(app, ctx)
