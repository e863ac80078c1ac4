"""`accessbot`: run the bot (serve or console) and answer admins' questions from the command line."""

from __future__ import annotations

import argparse
import errno
import functools
import gc
import getpass
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import audit_cli
from bot.errors import ConfigError, database_problem
from domain.lifecycle import RequestStatus

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.worker import Workers
    from services.context import ServiceContext

# Each command imports what it needs when it runs: `accessbot --help` and the quick admin commands start at once,
# and serve's processes load only their part.

logger = logging.getLogger("accessbot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accessbot",
        description="Grant, elevate and remove access on analytics platforms from Slack, with approvals and an "
        "audit trail. With no command: `serve` when SLACK_BOT_TOKEN is set, else the local `console`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--config", help="YAML config file (default: $ACCESSBOT_CONFIG or ./accessbot.yml if present)")
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        help="DEBUG, INFO, WARNING or ERROR (default: the config's log_level)",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")

    serve = commands.add_parser(
        "serve", help="run the bot for Slack (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)"
    )
    serve.add_argument("--host", default="0.0.0.0", help="HTTP interface to listen on (default: 0.0.0.0)")
    serve.add_argument(
        "--port", type=_port, default=3000, help="HTTP port, 0 to 65535; Slack posts to /slack/events (default: 3000)"
    )

    console = commands.add_parser("console", help="try the bot in the terminal, with no Slack at all")
    console.add_argument("--as", dest="user", default="alice", help="who you are at first (alice, bob, carol, dan)")

    requests = commands.add_parser("requests", help="list access requests and their status")
    requests.add_argument(
        "--status",
        choices=[status.value for status in RequestStatus],
        action="append",
        help="only requests in this state; repeat for several (default: all)",
    )
    requests.add_argument("--limit", type=int, default=50, help="at most this many, newest first (default: 50)")
    requests.add_argument("--json", action="store_true", help="print JSON instead of a table")

    platforms = commands.add_parser("platforms", help="check the configured platforms")
    platforms.add_argument("action", choices=["check"], help="check: credentials, reachability and set-up of each")
    platforms.add_argument("--json", action="store_true", help="print JSON instead of text")
    platforms.add_argument(
        "--write",
        action="store_true",
        help="also prove the write path on a probe account (created, changed, removed; nothing is left behind)",
    )
    platforms.add_argument(
        "--probe-email",
        default=None,
        help="the probe account's address (default: accessbot-probe-<random>@example.invalid)",
    )

    policy = commands.add_parser("policy", help="check the approval policy, or explain it for a request")
    policy_actions = policy.add_subparsers(dest="policy_action", metavar="action", required=True)
    check = policy_actions.add_parser("check", help="validate a config file's policy and say what it does")
    check.add_argument("file", nargs="?", help="the config file (default: as for every command)")
    explain = policy_actions.add_parser("explain", help="which rules apply to a request, and who may approve it")
    explain.add_argument("text", help='the request as typed after /access, e.g. "add ana@x.com heap admin reason: y"')

    access = commands.add_parser("access", help="show a member's current access on a platform")
    access.add_argument("platform", help="a configured platform's name, as typed in /access")
    access.add_argument("email", help="the member's email address on that platform")
    access.add_argument("--json", action="store_true", help="print JSON instead of text")
    database = commands.add_parser("db", help="the database schema: upgrade it, or show its version")
    database.add_argument("action", choices=["upgrade", "status"], help="upgrade: apply pending migrations")

    review = commands.add_parser("review", help="post an access review to the approvers now (needs Slack)")
    review.add_argument("--print", action="store_true", help="print the review here instead; nothing is posted")
    audit_cli.add_commands(commands)
    return parser


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CONSOLE_LOG = "accessbot-console.log"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("accessbot")
    except PackageNotFoundError:
        return "(not installed)"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1 to 65535 (0 lets the system pick one)")
    return port


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # first: --help and --version need nothing else
    if args.command == "serve":
        # serve's worker process first, before this one loads anything: it loads its own code meanwhile, then
        # waits for the settings and the schema.
        from bot.metrics import measured_across_processes

        with measured_across_processes():  # before anything measures: the worker inherits where to write figures
            return _main(args, worker=_worker())
    return _main(args)


def _worker() -> Workers:
    from bot.worker import Workers

    return Workers().start()


def _main(args: argparse.Namespace, *, worker: Workers | None = None) -> int:
    from bot.logs import configure_logging
    from bot.settings import load_settings

    try:
        settings = load_settings(getattr(args, "file", None) or args.config)
        configure_logging(args.log_level or settings.log_level, settings.log_format)
        command = args.command or ("serve" if settings.slack_bot_token else "console")
        if command == "serve":
            # serve's front loads no database code: its worker meets the database, and says what went wrong.
            host, port = getattr(args, "host", "0.0.0.0"), getattr(args, "port", 3000)
            log_level = args.log_level or settings.log_level
            if worker is None:  # serving by default (a bot token, no command): the worker starts now
                return _serve(settings, host=host, port=port, log_level=log_level)
            started, worker = worker, None  # _serve_front owns it now, and stops it however it ends
            return _serve_front(settings, host=host, port=port, log_level=log_level, worker=started)
    except ConfigError as error:
        print(f"accessbot: {error}", file=sys.stderr)
        return 2
    finally:
        if worker is not None:
            worker.stop(timeout=5)  # serve never started (its settings were refused): the worker ends unused
    return _command(command, settings, args)


def _command(command: str, settings: Settings, args: argparse.Namespace) -> int:
    """Every command but serve: the console and the admin commands, each in one process with the database."""
    from sqlalchemy.exc import OperationalError

    from bot.logs import configure_logging
    from storage.schema import SchemaBehind

    try:
        if command == "console":
            # Log lines would land in the middle of the chat: they go to a file in the current folder instead.
            log_file = Path(CONSOLE_LOG)
            configure_logging(args.log_level or settings.log_level, settings.log_format, to_file=log_file)
            return _console(settings, user=getattr(args, "user", "alice"), log_file=log_file)
        if command == "requests":
            return _requests(settings, statuses=args.status, limit=args.limit, as_json=args.json)
        if command == "access":
            return _access(settings, platform=args.platform, email=args.email, as_json=args.json)
        if command == "platforms":
            return _check_platforms(
                settings, as_json=args.json, write=args.write, probe=args.probe_email or _probe_email()
            )
        if command == "policy":
            return _policy(settings, action=args.policy_action, text=getattr(args, "text", ""))
        if command == "db":
            return _database(settings, action=args.action)
        if command == "review":
            return _review(settings, print_only=args.print)
        if command in audit_cli.COMMANDS:
            return audit_cli.run(_offline(settings), args)
    except (ConfigError, SchemaBehind) as error:
        print(f"accessbot: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        print(f"accessbot: {database_problem(settings.database_url, error)}", file=sys.stderr)
        return 2
    return 1


def _serve(settings: Settings, *, host: str, port: int, log_level: str) -> int:
    """The front answers Slack; the work behind its answers and the scheduler run in a worker process."""
    from bot.metrics import measured_across_processes

    # Before anything measures: the worker inherits where to write its figures.
    with measured_across_processes():
        return _serve_front(settings, host=host, port=port, log_level=log_level, worker=_worker())


def _serve_front(settings: Settings, *, host: str, port: int, log_level: str, worker: Workers) -> int:
    """Serve with the worker started already (it loads its code meanwhile, and waits for `go`)."""
    try:
        from bot.slack_link import SlackLink, check_slack_settings, slack_api_url
        from services.logs import worker_name

        socket_mode = settings.slack_app_token is not None
        check_slack_settings(settings, require_signing_secret=not socket_mode)
        settings.refuse_placeholders()
        assert settings.slack_bot_token is not None
        slack = SlackLink.probing(settings.slack_bot_token.get_secret_value(), slack_api_url(settings))
        if not slack.check():  # a refused token stops here, in one line; an outage does not stop the bot
            until = "" if socket_mode else "; /healthz reports 503 until Slack answers"
            logger.warning("%s: starting anyway and asking again%s", slack.problem, until)
            slack.keep_trying()
        # The worker creates or checks the schema and builds, while the front loads the rest of its code and builds
        # too; the front serves once the worker is ready, and ends with the worker's one line if it cannot be.
        worker.go(settings, instance=worker_name(), log_level=log_level)
        from bot.front import front_app, front_health, front_metrics
        from bot.handoff import hand_off_work
        from bot.server import serve_http, serve_socket_mode

        app = front_app(settings)
        worker.ready()
    except BaseException:
        worker.stop(timeout=5)
        raise
    hand_off_work(app, worker)
    # What start-up built lives as long as the process: keep it out of the collector's full passes, whose pauses
    # would land on the acknowledgements Slack is waiting for.
    gc.freeze()
    # Service managers stop a service with SIGTERM: end as on Ctrl-C, letting the worker finish what was answered.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if socket_mode and settings.slack_app_token is not None:
            serve_socket_mode(app, settings.slack_app_token.get_secret_value())
        else:
            health = functools.partial(front_health, worker, slack, sweep_seconds=settings.elevations.sweep_seconds)
            try:
                serve_http(app, host=host, port=port, health=health, metrics=functools.partial(front_metrics, worker))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                raise ConfigError(
                    f"port {port} on {host} is in use by another program: stop it, or choose another port with --port"
                ) from None
    except KeyboardInterrupt:
        pass  # how Socket Mode ends; waitress ends its loop on it by itself
    finally:
        logger.info("stopping: the worker finishes the work already answered (%s waiting)", worker.queued)
        slack.stop()
        worker.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _console(settings: Settings, *, user: str, log_file: Path) -> int:
    from bot.console.repl import Console

    with Console(settings, user=user) as console:
        print(f"(log lines go to {log_file.resolve()})", file=sys.stderr)
        console.run()
    return 0


def _offline(settings: Settings) -> ServiceContext:
    from bot.bootstrap import build_services
    from bot.offline import NoSlack

    return build_services(settings, directory=NoSlack(), notifier=NoSlack())


def _requests(settings: Settings, *, statuses: list[str] | None, limit: int, as_json: bool) -> int:
    from bot.admin import requests_json, requests_report
    from bot.exports import terminal_safe
    from services.grants import live_views
    from services.queries import request_views

    services = _offline(settings)
    wanted = [RequestStatus(status) for status in statuses] if statuses else None
    views = request_views(services, statuses=wanted, limit=limit)
    if as_json:
        print(requests_json(views))
    else:
        report = requests_report(views, live_views(services, temporary_only=True), now=services.clock.now())
        print(terminal_safe(report))
    return 0


def _policy(settings: Settings, *, action: str, text: str) -> int:
    from bot.policy_report import explanation_text, policy_summary
    from domain.commands import CommandError, GrantCommand, RemoveCommand, parse_command
    from services.explain import explain

    if action == "check":
        problems = _unworkable_ids(settings)
        for problem in problems:
            print(f"accessbot: {problem}", file=sys.stderr)
        if problems:
            return 2
        approvers = {name: platform.approvers for name, platform in settings.platforms.items()}
        checked = (
            f"Slack ids: {len(settings.slack_ids())} named, each known to Slack"
            if settings.slack_bot_token
            else "Slack ids: not asked of Slack (set SLACK_BOT_TOKEN to check that each exists)"
        )
        print("policy OK\n" + policy_summary(settings.policy, approvers) + "\n" + checked)
        return 0
    if not text.strip():
        raise ConfigError(
            'nothing to explain: give the request as typed after /access, e.g. `accessbot policy explain "add '
            'ana@agency.example sandbox viewer on staging reason: onboarding"`'
        )
    services = _offline(settings)
    try:
        parsed = parse_command(text, services.catalogs)
    except CommandError as error:
        print(f"accessbot: {error.problem}\nusage: {error.usage or ''}", file=sys.stderr)
        return 2
    if not isinstance(parsed, GrantCommand | RemoveCommand):
        print(f"accessbot: `{parsed.verb}` changes no access, so no rule applies to it", file=sys.stderr)
        return 2
    print(explanation_text(explain(services, parsed)))
    return 0


def _unworkable_ids(settings: Settings) -> list[str]:
    """The ids in the config that cannot work: the example's placeholders, and, with a bot token, those Slack does
    not know (a typo, a deleted group, a deactivated member)."""
    problems = [
        f"{found} is the example config's placeholder: put a real id there" for found in settings.placeholders()
    ]
    if settings.slack_bot_token is None:
        return problems
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.settings import EXAMPLE_IDS
    from bot.slack_link import quiet_client, slack_api_url
    from handlers.directory import unknown_ids

    named = settings.slack_ids()
    client = quiet_client(settings.slack_bot_token.get_secret_value(), slack_api_url(settings))
    try:
        unknown = unknown_ids(client, [slack_id for slack_id in named if slack_id not in EXAMPLE_IDS])
    except SlackApiError as error:
        code = error.response.get("error")
        raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({code}) while checking the ids the config names") from None
    except (SlackClientError, OSError) as error:
        raise ConfigError(
            f"could not ask Slack at {slack_api_url(settings)} about the ids the config names ({error}): check the "
            "network, or unset SLACK_BOT_TOKEN to check the config alone"
        ) from None
    return problems + [
        f"{slack_id} ({', '.join(named[slack_id])}): Slack answered {answer}" for slack_id, answer in unknown.items()
    ]


def _database(settings: Settings, *, action: str) -> int:
    from storage.db import make_engine
    from storage.schema import UPGRADE_COMMAND, current_revision, head_revision, upgrade

    engine = make_engine(settings.database_url)
    try:
        if action == "status":
            current, head = current_revision(engine), head_revision()
            state = "up to date" if current == head else f"behind: run `{UPGRADE_COMMAND}`"
            print(
                f"database {engine.url.render_as_string()}: schema {current or 'none'}, this accessbot {head} ({state})"
            )
            return 0 if current == head else 1
        before, after = upgrade(engine)
        print(f"database schema: {before or 'empty'} -> {after}" if before != after else f"already at {after}")
        return 0
    finally:
        engine.dispose()


def _review(settings: Settings, *, print_only: bool) -> int:
    from bot.admin import format_snapshot, review_posted_text
    from bot.bootstrap import bootstrap
    from services import reviews

    if print_only:
        taken = reviews.snapshot(_offline(settings))
        print(format_snapshot(taken))
        return 1 if taken.errors else 0
    if settings.slack_bot_token is None:
        raise ConfigError("posting a review needs Slack: set SLACK_BOT_TOKEN, or use `accessbot review --print`")
    runtime = bootstrap(settings, require_signing_secret=False)
    try:
        review = reviews.start(runtime.services, started_by=f"cli:{getpass.getuser()}")
    finally:
        runtime.close()
    assert review is not None  # a review started by hand claims no scheduled slot, so it cannot lose a race
    print(review_posted_text(review, settings.reviews.channel or settings.approvals_channel))
    return 1 if review.errors else 0


def _probe_email() -> str:
    import secrets

    return f"accessbot-probe-{secrets.token_hex(4)}@example.invalid"


def _check_platforms(settings: Settings, *, as_json: bool, write: bool = False, probe: str = "") -> int:
    from bot.admin import format_checks

    services = _offline(settings)
    checks = []
    for platform in services.platforms.values():
        found = platform.check()
        if write and found.ok:
            proven = platform.prove_writes(probe)
            missing = any(capability.status == "missing" for capability in proven)
            found = found.model_copy(update={"capabilities": [*found.capabilities, *proven], "ok": not missing})
        checks.append(found)
    if as_json:
        print(json.dumps([check.model_dump() for check in checks], indent=2))
    else:
        print(format_checks(checks, {name: config.type for name, config in settings.platforms.items()}))
    return 0 if all(check.ok for check in checks) else 1


def _access(settings: Settings, *, platform: str, email: str, as_json: bool) -> int:
    from bot.admin import access_json, format_access
    from services.grants import account_ledger
    from services.queries import access_everywhere

    services = _offline(settings)
    if platform not in services.platforms:
        raise ConfigError(f"unknown platform {platform!r}; configured: {', '.join(services.platforms)}")
    answers = access_everywhere(services, email.lower(), [platform])
    ledgers = {platform: account_ledger(services, platform, email.lower())}
    now = services.clock.now()
    print(
        access_json(email.lower(), answers, ledgers)
        if as_json
        else format_access(email.lower(), answers, ledgers, now=now)
    )
    return 0 if all(not isinstance(answer, str) for answer in answers.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
