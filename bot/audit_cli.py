"""The auditors' commands: `accessbot evidence`, `accessbot export audit|members` and `accessbot audit verify`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.errors import ConfigError

if TYPE_CHECKING:
    from services.context import ServiceContext
    from storage.models import AuditEvent

# The commands' parsers are built for every `accessbot` run; what they need to work is imported when they do.

COMMANDS = ("evidence", "export", "audit")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evidence = commands.add_parser("evidence", help="everything recorded about one request, for an auditor")
    evidence.add_argument("request_id", type=int, help="the request's number (#N on its card)")
    evidence.add_argument("--json", action="store_true", help="print JSON instead of text")

    export = commands.add_parser("export", help="write the audit trail or a platform's members to a file")
    what = export.add_subparsers(dest="export_what", metavar="what", required=True)
    audit = what.add_parser("audit", help="audit events, in order, with their hash links")
    audit.add_argument("--since", type=_moment, help="from this date or time (UTC unless it says otherwise)")
    audit.add_argument("--until", type=_moment, help="before this date or time")
    audit.add_argument("--format", choices=["csv", "json"], default="csv", help="csv (default) or json")
    audit.add_argument("--output", help="file to write (default: standard output)")
    members = what.add_parser("members", help="everyone with an account on a platform, with roles and scopes")
    members.add_argument("platform", help="a configured platform's name, as typed in /access")
    members.add_argument("--format", choices=["csv", "json"], default="csv", help="csv (default) or json")
    members.add_argument("--output", help="file to write (default: standard output)")

    chain = commands.add_parser("audit", help="check the audit trail")
    actions = chain.add_subparsers(dest="audit_action", metavar="action", required=True)
    verify = actions.add_parser("verify", help="check every link of the hash chain; exit 1 at the first broken one")
    verify.add_argument("--anchor", type=_anchor, help="the anchor an earlier verify printed, to check it still holds")
    verify.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(services: ServiceContext, args: argparse.Namespace) -> int:
    if args.command == "evidence":
        return _evidence(services, args.request_id, as_json=args.json)
    if args.command == "export" and args.export_what == "audit":
        return _export_audit(services, args)
    if args.command == "export":
        return _export_members(services, args)
    return _verify(services, anchor=args.anchor, as_json=args.json)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (2026-11-01) or time (2026-11-01T09:00)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _anchor(text: str) -> tuple[tuple[int, ...], str]:
    from storage.audit import parse_anchor

    anchor = parse_anchor(text)
    if anchor is None:
        raise argparse.ArgumentTypeError(
            "give the anchor as `accessbot audit verify` printed it: numbers joined by dots, a colon, a 64-digit hash"
        )
    return anchor


def _evidence(services: ServiceContext, request_id: int, *, as_json: bool) -> int:
    from bot.exports import evidence_text, terminal_safe
    from services.evidence import gather

    found = gather(services, request_id)
    if found is None:
        print(f"accessbot: request #{request_id} does not exist", file=sys.stderr)
        return 1
    print(found.model_dump_json(indent=2) if as_json else terminal_safe(evidence_text(found)))
    return 0 if found.untouched else 1


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[tuple[TextIO, str]]:
    if path is None or path == "-":
        yield sys.stdout, "standard output"
        return
    target = Path(path)
    # newline="" lets the csv module write its own line endings, as it requires.
    with target.open("w", encoding="utf-8", newline="") as out:
        yield out, str(target)


def _export_audit(services: ServiceContext, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from bot.exports import chain_text, write_audit_csv, write_audit_json
    from storage.audit import events_between, verify_chain

    now = services.clock.now()
    with Session(services.engine) as session:
        chain = verify_chain(session)
        events: Iterator[AuditEvent] = events_between(session=session, since=args.since, until=args.until)
        with _output(args.output) as (out, where):
            if args.format == "csv":
                count = write_audit_csv(events, out)
            else:
                count = write_audit_json(events, out, since=args.since, until=args.until, chain=chain, exported_at=now)
    print(f"wrote {count} audit events to {where}", file=sys.stderr)
    print(chain_text(chain), file=sys.stderr)
    return 0 if chain.intact else 1


def _export_members(services: ServiceContext, args: argparse.Namespace) -> int:
    from bot.exports import write_members_csv, write_members_json
    from platforms.base import PlatformError

    platform = services.platforms.get(args.platform)
    if platform is None:
        raise ConfigError(f"unknown platform {args.platform!r}; configured: {', '.join(services.platforms)}")
    now = services.clock.now()
    try:
        members = platform.list_members()
    except PlatformError as error:
        print(f"accessbot: could not list the members of {args.platform}: {error.message}", file=sys.stderr)
        return 1
    with _output(args.output) as (out, where):
        writer = write_members_csv if args.format == "csv" else write_members_json
        count = writer(args.platform, members, out, exported_at=now)
    print(f"wrote {count} members of {args.platform} to {where}", file=sys.stderr)
    return 0


def _verify(services: ServiceContext, *, anchor: tuple[tuple[int, ...], str] | None, as_json: bool) -> int:
    from sqlmodel import Session

    from bot.exports import chain_json, chain_text
    from storage.audit import anchor_holds, verify_chain

    with Session(services.engine) as session:
        report = verify_chain(session)
        anchored = None if anchor is None else anchor_holds(session, *anchor)
    if as_json:
        print(json.dumps(chain_json(report) | ({"anchor_holds": anchored} if anchor else {}), indent=2))
    else:
        print(chain_text(report))
        if anchor is not None:
            verdict = "holds" if anchored else "DOES NOT HOLD: the trail up to it was rewritten or truncated"
            print(f"anchor: {verdict}")
    return 0 if report.intact and anchored is not False else 1
