"""The composition root: the one place that builds the engine, platform clients, Slack client and Bolt app.

Nothing is built at import time. `serve`, `console`, the admin commands and the tests all come through here, so
they run the same listeners against the same services.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy.engine import Engine

import handlers
from bot.health import Health, check
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.slack_link import BotTokenAuthorize, check_slack_settings, slack_api_url
from handlers.directory import SlackDirectory
from handlers.home import home_for
from handlers.notifier import SlackNotifier, card_of
from handlers.outbox import Outbox
from platforms.base import Platform
from platforms.registry import PlatformContext, build_platforms
from services import home
from services.context import ServiceContext
from services.ports import Clock, Directory, Notifier, SystemClock, Timers
from services.submit import card_posted
from storage.db import make_engine
from storage.schema import ensure_schema


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    services: ServiceContext
    timers: Scheduler | None  # None where another process schedules: serve's front
    app: App | None = None
    client: WebClient | None = None

    @property
    def scheduler(self) -> Scheduler:
        assert self.timers is not None, "this process schedules nothing: serve's worker does (bot/worker.py)"
        return self.timers

    def health(self) -> Health:
        degraded = [name for name, platform in self.services.platforms.items() if platform.degraded]
        return check(
            self.engine, self.scheduler, sweep_seconds=self.settings.elevations.sweep_seconds, degraded=degraded
        )

    def close(self) -> None:
        """Stop the timers, then release platform connections and the database pool."""
        if self.timers is not None:
            self.timers.shutdown()
        self.services.leases.stop()
        for platform in self.services.platforms.values():
            platform.close()
        self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    directory: Directory,
    notifier: Notifier,
    clock: Clock | None = None,
    platforms: Mapping[str, Platform] | None = None,
    engine: Engine | None = None,
    timers: Timers | None = None,
) -> ServiceContext:
    engine = engine or make_engine(settings.database_url)
    ensure_schema(engine)
    clock = clock or SystemClock()
    if platforms is None:
        platforms = build_platforms(settings.platforms, PlatformContext(engine=engine, now=clock.now))
    return ServiceContext(
        engine=engine,
        platforms=platforms,
        settings=settings.platforms,
        directory=directory,
        notifier=notifier,
        clock=clock,
        elevation_settings=settings.elevations,
        task_settings=settings.tasks,
        removal_settings=settings.removals,
        review_settings=settings.reviews,
        policy=settings.policy,
        timers=timers,
    )


class _BoltLogs(logging.Filter):
    """What Bolt logs, made fit for an operator's log:

    - Bolt reads SLACK_BOT_TOKEN itself and, given a client and an authorize too, warns at every start that the
      token is unused, which reads like a token problem: the client and the authorize use that very token. Dropped.
    - A request with a bad signature is logged by Bolt with its whole body: anyone on the internet could grow the log
      by megabytes a request, or forge log lines with a newline. One line without the body instead, at most once per
      REFUSED_EVERY seconds, saying how many more were refused meanwhile.
    """

    SAID_AT_EVERY_START = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})
    REFUSED_EVERY = 10.0

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._last_told = -self.REFUSED_EVERY
        self._untold = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in self.SAID_AT_EVERY_START:
            return False
        if isinstance(record.msg, str) and record.msg.startswith("Invalid request signature detected"):
            with self._lock:
                now = time.monotonic()
                if now - self._last_told < self.REFUSED_EVERY:
                    self._untold += 1
                    return False
                more, self._untold, self._last_told = self._untold, 0, now
            record.msg = "refused a request with an invalid or stale signature%s"
            record.args = (f" ({more} more since the last such line)" if more else "",)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def slack_client(settings: Settings) -> WebClient:
    check_slack_settings(settings, require_signing_secret=False)
    assert settings.slack_bot_token is not None
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=slack_api_url(settings))
    # Many reverts or reminders at once can meet Slack's rate limits; wait as Slack says rather than drop messages.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    return client


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    platforms: Mapping[str, Platform] | None = None,
    listener_executor: Executor | None = None,
    require_signing_secret: bool = True,
    scheduled: bool = True,
    verify_requests: bool = True,
) -> Runtime:
    """Build the Bolt app wired to the services.

    Slack is answered as soon as a listener's quick part returns; `listener_executor` is where Bolt then runs the
    work (handlers/listening.py). The console and the tests wait on it.

    `serve` builds this twice (bot/worker.py): its front answers Slack and has no scheduler (`scheduled=False`);
    its worker does the work and the scheduling, and takes requests from the front, which has checked their
    signatures (`verify_requests=False`).
    """
    check_slack_settings(settings, require_signing_secret=require_signing_secret)
    client = slack_client(settings)
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    scheduler = Scheduler(sweep_seconds=settings.elevations.sweep_seconds) if scheduled else None
    engine = make_engine(settings.database_url)
    outbox = Outbox(
        client,
        engine,
        first_retry=timedelta(seconds=settings.outbox_retry_seconds),
        digest_window=timedelta(seconds=settings.elevations.digest_seconds),
    )
    notifier = SlackNotifier(
        outbox,
        settings.approvals_channel,
        reviews_channel=settings.reviews.channel,
        review_rows=settings.reviews.rows_per_message,
        compliance_channel=settings.removals.compliance_channel,
    )
    services = build_services(
        settings,
        directory=SlackDirectory(client),
        notifier=notifier,
        clock=clock,
        platforms=platforms,
        engine=engine,
        timers=scheduler,
    )
    outbox.on_card_posted = lambda request_id, card: card_posted(services, request_id, card)
    outbox.render_card = lambda request_id: card_of(services, request_id)
    outbox.render_home = lambda user_id: home_for(services, user_id)
    outbox.render_digest = notifier.draw_digest
    notifier.home_viewers = lambda: home.viewers(services)
    if scheduler is not None:
        # After each sweep, and when a held digest is due, deliver what waits: digests, and what Slack could not take
        # before (an outage, a rate limit that outlasted retries).
        scheduler.bind(services, after_sweep=outbox.deliver_pending, next_delivery=outbox.next_digest)
        outbox.on_held = scheduler.deliver_soon
    bolt_logger = logging.getLogger("accessbot.bolt")
    if not any(isinstance(known, _BoltLogs) for known in bolt_logger.filters):
        bolt_logger.addFilter(_BoltLogs())
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=verify_requests,
        process_before_response=True,
        # Bolt would ask Slack who the bot is here, and fail to start during a Slack outage (bot/slack_link.py).
        authorize=BotTokenAuthorize(client),  # type: ignore[arg-type]  # an Authorize is taken as is; hints name functions
        listener_executor=listener_executor,
        logger=bolt_logger,
    )
    handlers.register(app, services, outbox)
    return Runtime(
        settings=settings, engine=services.engine, services=services, timers=scheduler, app=app, client=client
    )
