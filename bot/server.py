"""How Slack reaches the bot: HTTP (`POST /slack/events`, signatures verified by Bolt) or Socket Mode."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.error import URLError

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackApiError
from waitress.server import BaseWSGIServer, MultiSocketServer

from bot.health import Health
from bot.slack_link import APP_TOKEN_WHERE, LONGEST_WAIT_SECONDS, REFUSED_TOKEN, token_refused

logger = logging.getLogger("accessbot.server")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
# Each request holds a thread until ack(); slow work continues on Bolt's own executor.
HTTP_THREADS = 8
# What the front accepts from anybody on the internet, before a signature is checked:
# - a body of at most MAX_BODY_BYTES (Slack's payloads are a few kB; a bigger one is refused with 413 from its
#   Content-Length, before it is read);
# - up to MAX_CONNECTIONS open connections (slow clients cost a socket in waitress's select loop, never a thread);
# - a connection that sends nothing for IDLE_SECONDS is closed (one byte every 30 s no longer holds a slot for ever).
MAX_BODY_BYTES = 1024 * 1024
MAX_CONNECTIONS = 1000
IDLE_SECONDS = 10

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HealthCheck = Callable[[], Health]
Metrics = Callable[[], tuple[bytes, str]]  # the page and its content type


def wsgi_app(app: App, health: HealthCheck | None = None, metrics: Metrics | None = None) -> WSGIApp:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if metrics is not None and environ.get("PATH_INFO") == METRICS_PATH and environ.get("REQUEST_METHOD") == "GET":
            page, content_type = metrics()
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(page)))])
            return [page]
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            report = health() if health is not None else None
            ok = report is None or report.ok
            body = (report.model_dump_json() if report is not None else json.dumps({"ok": True})).encode()
            status = "200 OK" if ok else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        try:
            return slack(environ, start_response)
        except Exception:
            # Bolt parses the body before checking its signature, so malformed input can raise here: answer it
            # as the bad request it is, without a word about why.
            logger.warning("could not read a request to %s", environ.get("PATH_INFO"), exc_info=True)
            start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", "11")])
            return [b"bad request"]

    return route


class HttpServer:
    """The bot's HTTP endpoint on waitress, with a shutdown that can be called from another thread."""

    def __init__(
        self, app: App, *, host: str, port: int, health: HealthCheck | None = None, metrics: Metrics | None = None
    ) -> None:
        self._server: BaseWSGIServer | MultiSocketServer = waitress.create_server(
            wsgi_app(app, health, metrics),
            host=host,
            port=port,
            threads=HTTP_THREADS,
            ident="accessbot",
            max_request_body_size=MAX_BODY_BYTES,
            connection_limit=MAX_CONNECTIONS,
            channel_timeout=IDLE_SECONDS,
            cleanup_interval=IDLE_SECONDS / 2,
        )
        self._stopping = False

    @property
    def port(self) -> int:
        """The port listened on; useful when 0 asked the system to pick one."""
        return int(self._server.effective_port)

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Closing the listening socket under waitress's select loop ends it this way.
            if not self._stopping:
                raise

    def shutdown(self) -> None:
        self._stopping = True
        self._server.task_dispatcher.shutdown()
        self._server.close()


def serve_http(
    app: App, *, host: str, port: int, health: HealthCheck | None = None, metrics: Metrics | None = None
) -> None:
    server = HttpServer(app, host=host, port=port, health=health, metrics=metrics)
    logger.info("listening on http://%s:%s%s", host, server.port, EVENTS_PATH)
    server.serve_forever()


def serve_socket_mode(app: App, app_token: str) -> None:
    """Connect and serve until interrupted. While Slack cannot be reached, keep trying; a refused token is one line."""
    logger.info("connecting to Slack in Socket Mode")
    handler = SocketModeHandler(app, app_token)
    wait = 1.0
    while True:
        try:
            handler.connect()
            break
        except SlackApiError as error:
            code = str(error.response.get("error") or f"HTTP {error.response.status_code}")
            if code in REFUSED_TOKEN:
                raise token_refused("SLACK_APP_TOKEN", code, APP_TOKEN_WHERE) from None
            problem = f"Slack answered {code}"
        except (URLError, OSError) as error:
            problem = f"Slack does not answer ({getattr(error, 'reason', None) or error})"
        logger.warning("Socket Mode: %s; connecting again in %.0f s", problem, wait)
        threading.Event().wait(wait)
        wait = min(wait * 2, LONGEST_WAIT_SECONDS)
    logger.info("connected to Slack in Socket Mode")
    threading.Event().wait()
