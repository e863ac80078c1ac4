"""serve's front: it verifies Slack's requests, answers them, and hands the work behind each answer to the worker
(bot/worker.py). It answers from the payload and the configuration alone (handlers/answers.py), and asks the worker
what the database says for `/healthz` and `/metrics`: it loads no database code, so it stays small
(tests/e2e/test_front.py checks what it loads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import App

from bot.health import NOT_ASKED, Health, check
from bot.metrics import database_unread, scrape
from bot.settings import Settings
from bot.slack_app import bolt_app, slack_client
from handlers.answers import register_answers

if TYPE_CHECKING:
    from bot.slack_link import SlackLink
    from bot.worker import Workers


def front_app(settings: Settings) -> App:
    app = bolt_app(settings, slack_client(settings))
    register_answers(app, settings.catalogs())
    return app


def front_health(worker: Workers, slack: SlackLink, *, sweep_seconds: float) -> Health:
    return check(
        worker.ask_database() or NOT_ASKED,
        worker,
        sweep_seconds=sweep_seconds,
        worker=worker,
        slack=slack,
    )


def front_metrics(worker: Workers) -> tuple[bytes, str]:
    page = worker.ask_metrics()
    return scrape(page if page is not None else database_unread())
