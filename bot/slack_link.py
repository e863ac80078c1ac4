"""Does Slack answer the bot's token? `serve` asks once at start and, while Slack does not answer, again in the
background, so that the bot starts during a Slack or network outage and `/healthz` says 503 until Slack is back.

A token Slack refuses is not an outage: it is a setting to fix, said in one line (ConfigError) before anything starts.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.error import URLError

from slack_bolt import BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.errors import ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

# What Slack answers for a token that will never work as it is (https://api.slack.com/methods/auth.test#errors).
REFUSED_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)
PROBE_TIMEOUT_SECONDS = 5
LONGEST_WAIT_SECONDS = 15.0


def token_refused(setting: str, error: str, where: str) -> ConfigError:
    return ConfigError(f"Slack refused {setting} ({error}): {where}")


BOT_TOKEN_WHERE = (
    "copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions in the app's settings, and reinstall the app "
    "if it was revoked"
)
APP_TOKEN_WHERE = (
    "create an app-level token (xapp-...) with the connections:write scope under Basic Information > App-Level "
    "Tokens, or unset SLACK_APP_TOKEN to receive Slack's requests over HTTP"
)


def quiet_client(token: str, base_url: str) -> WebClient:
    """A client for asking Slack one thing once: no retries, and no log line of its own for a failure (the caller
    says what failed, once)."""
    quiet = logging.getLogger("accessbot.slack_link.quiet")
    quiet.setLevel(logging.CRITICAL)
    return WebClient(token=token, base_url=base_url, timeout=PROBE_TIMEOUT_SECONDS, retry_handlers=[], logger=quiet)


@dataclass
class SlackLink:
    """Whether Slack answered `auth.test` with the bot token, and if not, why."""

    client: WebClient
    answered: bool = False
    problem: str | None = "not asked yet"
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def probing(cls, token: str, base_url: str) -> SlackLink:
        # Its own client: one quick try per check, none of the retries the bot's own calls make.
        return cls(quiet_client(token, base_url))

    def check(self) -> bool:
        """Ask Slack once. ConfigError if Slack refuses the token; False (and `problem`) if Slack does not answer."""
        try:
            self.client.auth_test()
        except SlackApiError as error:
            code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
            if code in REFUSED_TOKEN:
                raise token_refused("SLACK_BOT_TOKEN", code, BOT_TOKEN_WHERE) from None
            self.problem = f"Slack answered {code} at {self.client.base_url}"
        except (URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            self.problem = f"Slack does not answer at {self.client.base_url} ({reason})"
        else:
            self.answered, self.problem = True, None
        return self.answered

    def keep_trying(self, *, first_wait: float = 1.0) -> None:
        """Ask again in the background, waiting longer each time (up to LONGEST_WAIT_SECONDS), until Slack answers."""
        if self.answered or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._retry, args=(first_wait,), name="slack-link", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _retry(self, wait: float) -> None:
        while not self._stop.wait(wait):
            try:
                if self.check():
                    logger.info("Slack answers again at %s", self.client.base_url)
                    return
            except ConfigError as error:
                # The token was revoked while Slack was away: nothing to retry until someone changes it.
                self.problem = str(error)
                logger.error("%s", error)
                return
            wait = min(wait * 2, LONGEST_WAIT_SECONDS)


class BotTokenAuthorize(Authorize):
    """Who the bot is, for Bolt: Slack's `auth.test` answer, asked once and kept.

    Bolt's own single-workspace authorization asks Slack before it handles a request and refuses the request while
    Slack does not answer. During an outage a request that reaches the bot (or was queued for its worker) is still
    handled with the token alone: its messages wait in the outbox. Slack is asked again at most every
    ASK_AGAIN_SECONDS until it answers; a token Slack refuses authorizes nothing.
    """

    ASK_AGAIN_SECONDS = 10.0

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._known: SlackResponse | None = None
        self._asked_at = -self.ASK_AGAIN_SECONDS
        self._lock = threading.Lock()

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        token = self.client.token
        known = self._ask()
        if known is None:
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)
        if not _same_workspace(known, team_id=team_id, enterprise_id=enterprise_id):
            # Signed with our secret, yet from another workspace (a payload copied across, or a second install):
            # nothing in it concerns this one.
            logger.warning(
                "refused a request from workspace %s: this bot is installed in %s", team_id, known.get("team_id")
            )
            return None
        return AuthorizeResult(
            enterprise_id=known.get("enterprise_id") or enterprise_id,
            team_id=known.get("team_id") or team_id,
            bot_id=known.get("bot_id"),
            bot_user_id=known.get("user_id"),
            bot_token=token,
            user_id=user_id,
            bot_scopes=known.headers.get("x-oauth-scopes"),
        )

    def _ask(self) -> SlackResponse | None:
        with self._lock:
            if self._known is not None or time.monotonic() - self._asked_at < self.ASK_AGAIN_SECONDS:
                return self._known
            self._asked_at = time.monotonic()
            try:
                self._known = self.client.auth_test()
            except SlackApiError as error:
                if error.response.get("error") in REFUSED_TOKEN:
                    raise  # Bolt logs it and answers that the app is not authorized
            except (URLError, OSError) as error:
                logger.warning("Slack does not answer auth.test (%s): handling the request with the token", error)
            return self._known


def _same_workspace(installed: SlackResponse, *, team_id: str | None, enterprise_id: str | None) -> bool:
    """Whether a request comes from the workspace (or the Enterprise Grid organisation) the bot is installed in."""
    if installed.get("enterprise_id") and enterprise_id == installed.get("enterprise_id"):
        return True
    return team_id is None or team_id == installed.get("team_id")


SLACK_API_DEFAULT = "https://slack.com/api/"


def check_slack_settings(settings: Settings, *, require_signing_secret: bool) -> None:
    """What talking to Slack needs, checked before anything starts (ConfigError says what to set)."""
    if settings.slack_bot_token is None:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set. Set it to the app's Bot User OAuth Token (xoxb-...), "
            "or run `accessbot console` to try the bot locally without Slack."
        )
    if require_signing_secret and not settings.slack_signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set. HTTP mode verifies every request from Slack with it; find it under "
            "Basic Information > App Credentials, or set SLACK_APP_TOKEN to use Socket Mode instead."
        )
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError(
            f"SLACK_APP_TOKEN starts with {app_token[:5]!r}, not 'xapp-': Socket Mode needs an app-level token. "
            "Create one with the connections:write scope under Basic Information > App-Level Tokens, or unset "
            "SLACK_APP_TOKEN to receive Slack's requests over HTTP."
        )


def slack_api_url(settings: Settings) -> str:
    return (settings.slack_api_url or SLACK_API_DEFAULT).rstrip("/") + "/"
