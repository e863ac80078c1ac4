"""The composition root: the one place that builds the engine, platform clients, Slack client and Bolt app.

Nothing is built at import time. `serve`, `console`, the admin commands and the tests all come through here, so
they run the same listeners against the same services.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.health import Health, check
from bot.metrics import scrape
from bot.readings import database_metrics, database_state
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.slack_app import bolt_app, slack_client
from bot.slack_link import check_slack_settings
from handlers.directory import SlackDirectory
from handlers.home import home_for
from handlers.listening import register
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
            database_state(self.engine),
            self.scheduler,
            sweep_seconds=self.settings.elevations.sweep_seconds,
            degraded=degraded,
        )

    def metrics(self) -> tuple[bytes, str]:
        """`/metrics` of one process that holds the database (the console, the tests)."""
        return scrape(database_metrics(self.engine, self.services.clock.now))

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
    app = bolt_app(settings, client, verify_requests=verify_requests, listener_executor=listener_executor)
    register(app, services, outbox)
    return Runtime(
        settings=settings, engine=services.engine, services=services, timers=scheduler, app=app, client=client
    )
