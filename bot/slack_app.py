"""The Slack client and the Bolt app, as serve's front (bot/front.py) and the composition root (bot/bootstrap.py)
both build them. Nothing here loads the database layer."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.settings import Settings
from bot.slack_link import BotTokenAuthorize, check_slack_settings, slack_api_url


def slack_client(settings: Settings) -> WebClient:
    check_slack_settings(settings, require_signing_secret=False)
    assert settings.slack_bot_token is not None
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=slack_api_url(settings))
    # Many reverts or reminders at once can meet Slack's rate limits; wait as Slack says rather than drop messages.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    return client


def bolt_app(
    settings: Settings, client: WebClient, *, verify_requests: bool = True, listener_executor: Executor | None = None
) -> App:
    """The Bolt app, answering as soon as a listener's quick part returns (`process_before_response`)."""
    bolt_logger = logging.getLogger("accessbot.bolt")
    if not any(isinstance(known, _BoltLogs) for known in bolt_logger.filters):
        bolt_logger.addFilter(_BoltLogs())
    return App(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "",
        request_verification_enabled=verify_requests,
        process_before_response=True,
        # Bolt would ask Slack who the bot is here, and fail to start during a Slack outage (bot/slack_link.py).
        authorize=BotTokenAuthorize(client),  # type: ignore[arg-type]  # an Authorize is taken as is; hints name functions
        listener_executor=listener_executor,
        logger=bolt_logger,
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
