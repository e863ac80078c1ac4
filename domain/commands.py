"""The `/access` grammar, parsed into typed commands.

    /access add <email|@person> <platform> <role> [on <scope>[,<scope>...]] [for <duration> | until <date>]
                reason: <text> [ticket: <id>]
    /access update ... (same as add; role `none` with `on` takes those scopes away)
    /access remove <email|@person> <platform|all> [delete|revoke] [now] reason: <text> [ticket: <id>]
    /access list [<email|@person>] [<platform>]
    /access status <request-id>
    /access evidence <request-id>
    /access help [<verb>]

Without `on`, the role is the account role (Heap's Admin ... Read-Only). With `on`, it is the role on each named
project, module or site. Every failure raises `CommandError`, which says what is wrong and shows the right form.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.access import AccessChange, RemovalMethod
from domain.catalog import NO_ACCESS, RoleCatalog
from domain.durations import DurationError, Until, format_duration, parse_duration, parse_until

ALL_PLATFORMS = "all"

USAGE: dict[str, str] = {
    "add": "/access add <email|@person> <platform> <role> [on <scope>,...] [for <duration> | until <date>] "
    "reason: <why> [ticket: <id>]",
    "update": "/access update <email|@person> <platform> <role> [on <scope>,...] [for <duration> | until <date>] "
    "reason: <why> [ticket: <id>]",
    "remove": "/access remove <email|@person> <platform|all> [delete|revoke] [now] reason: <why> [ticket: <id>]",
    "break-glass": "/access break-glass <email|@person> <platform> <role> [on <scope>,...] for <duration> "
    "reason: <the emergency>",
    "list": "/access list [<email|@person>] [<platform>]",
    "status": "/access status <request-id>",
    "evidence": "/access evidence <request-id>",
    "help": "/access help [add|update|remove|list|status|evidence|break-glass]",
}
EXAMPLE_PLATFORM = "heap"  # the platform the examples name; another configured one stands in when it is not
EXAMPLES: dict[str, str] = {
    "add": "/access add ana@agency.com heap viewer on production for 2w reason: Q4 dashboard review ticket: OPS-12",
    "update": "/access update @ana heap admin on staging for 4h reason: tracking plan deploy",
    "remove": "/access remove ana@agency.com all revoke reason: engagement ended ticket: OPS-40",
    "break-glass": "/access break-glass ana@agency.com heap admin for 1h reason: INC-812 tracking outage, fixing it",
    "list": "/access list @ana heap",
    "status": "/access status 42",
    "evidence": "/access evidence 42",
    "help": "/access help add",
}
_VERBS: dict[str, str] = {
    "add": "add",
    "grant": "add",
    "update": "update",
    "change": "update",
    "remove": "remove",
    "offboard": "remove",
    "break-glass": "break-glass",
    "breakglass": "break-glass",
    "emergency": "break-glass",
    "list": "list",
    "ls": "list",
    "status": "status",
    "evidence": "evidence",
    "help": "help",
}
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")
_LABEL = re.compile(r"\b(reason|ticket)\s*:", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^(?:#|ar-)?(\d{1,12})$", re.IGNORECASE)
MAX_REASON = 500
MAX_TICKET = 64


class CommandError(ValueError):
    """Bad input: `problem` names it, `usage` shows the correct form."""

    def __init__(
        self, problem: str, verb: str | None = None, field: str | None = None, *, platforms: Sequence[str] = ()
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.verb = verb
        # Which input the problem is in (target, platform, role, scopes, duration, method, reason, ticket),
        # so the request form can show it next to that field.
        self.field = field
        # The platforms configured, when the example must name one of them rather than the one in EXAMPLES.
        self.platforms = tuple(platforms)

    @property
    def usage(self) -> str | None:
        return USAGE.get(self.verb) if self.verb else None

    @property
    def example(self) -> str | None:
        example = EXAMPLES.get(self.verb) if self.verb else None
        if example is not None and self.platforms and EXAMPLE_PLATFORM not in self.platforms:
            example = example.replace(f" {EXAMPLE_PLATFORM} ", f" {self.platforms[0]} ")
        return example


class Target(BaseModel):
    """Who a request is for: an email typed out, or a Slack member to look up."""

    model_config = ConfigDict(frozen=True)

    email: str | None = None
    slack_id: str | None = None

    def describe(self) -> str:
        return self.email or f"<@{self.slack_id}>"


class GrantCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: Literal["add", "update", "break-glass"]
    target: Target
    platform: str
    role: str
    scopes: tuple[str, ...] = ()
    change: AccessChange
    duration: timedelta | None = None
    until: Until | None = None
    reason: str
    ticket: str | None = None

    @property
    def is_temporary(self) -> bool:
        return self.duration is not None or self.until is not None

    def describe_expiry(self) -> str:
        if self.duration is not None:
            return f"for {format_duration(self.duration)}"
        if self.until is not None:
            return self.until.describe()
        return "permanent"

    def canonical(self) -> str:
        """The command in its typed form, whichever way it was made (kept as evidence)."""
        parts = [self.verb, self.target.describe(), self.platform, self.role]
        if self.scopes:
            parts += ["on", ",".join(self.scopes)]
        if self.duration is not None:
            parts += ["for", format_duration(self.duration).replace(" ", "")]
        if self.until is not None:
            parts += ["until", self.until.canonical()]
        return _with_reason(parts, self.reason, self.ticket)


class RemoveCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: Literal["remove"] = "remove"
    target: Target
    platform: str  # a platform name or ALL_PLATFORMS
    method: RemovalMethod | None = None  # None: each platform's configured default
    reason: str
    ticket: str | None = None
    # For a security reason: no steps before the removal hold it back (they are done after it).
    now: bool = False

    def canonical(self) -> str:
        parts = [self.verb, self.target.describe(), self.platform]
        if self.method is not None:
            parts.append(self.method.value)
        if self.now:
            parts.append("now")
        return _with_reason(parts, self.reason, self.ticket)


def _with_reason(parts: list[str], reason: str, ticket: str | None) -> str:
    text = f"/access {' '.join(parts)} reason: {reason}"
    return f"{text} ticket: {ticket}" if ticket else text


class ListCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: Literal["list"] = "list"
    target: Target | None = None
    platform: str | None = None


class StatusCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: Literal["status"] = "status"
    request_id: int


class EvidenceCommand(BaseModel):
    """Everything an auditor asks about one request: snapshots, decisions, platform answers, the audit events."""

    model_config = ConfigDict(frozen=True)

    verb: Literal["evidence"] = "evidence"
    request_id: int


class HelpCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: Literal["help"] = "help"
    topic: str | None = None


class OpenFormCommand(BaseModel):
    """`/access` alone: open the request form."""

    model_config = ConfigDict(frozen=True)

    verb: Literal["form"] = "form"


Command = GrantCommand | RemoveCommand | ListCommand | StatusCommand | EvidenceCommand | HelpCommand | OpenFormCommand


def parse_command(text: str, catalogs: Mapping[str, RoleCatalog]) -> Command:
    """Parse the text after `/access` against the configured platforms' catalogs."""
    head, fields, repeated = _split_labels(text or "")
    tokens = head.split()
    if not tokens:
        if fields:
            raise CommandError("Start with what you want to do: add, update, remove, list, status or help.", "help")
        return OpenFormCommand()
    word = tokens[0].lower()
    verb = _VERBS.get(word)
    if verb is None:
        raise CommandError(
            f"Unknown command `{tokens[0]}`.{_suggest(word, _VERBS)} Commands: {', '.join(USAGE)}.", "help"
        )
    if repeated:
        raise CommandError(f"`{repeated}:` is given twice; give it once.", verb)
    rest = tokens[1:]
    if verb == "help":
        topic = rest[0].lower() if rest else None
        return HelpCommand(topic=_VERBS.get(topic) if topic else None)
    if verb == "status":
        return StatusCommand(request_id=_request_id(verb, rest, fields))
    if verb == "evidence":
        return EvidenceCommand(request_id=_request_id(verb, rest, fields))
    if verb == "list":
        return _parse_list(rest, fields, catalogs)
    if verb == "remove":
        return _parse_remove(rest, fields, catalogs)
    return _parse_grant(verb, rest, fields, catalogs)  # type: ignore[arg-type]


def _split_labels(text: str) -> tuple[str, dict[str, str], str | None]:
    """Separate `reason:` and `ticket:` (free text, either order) from the words before them.

    Also returns a label given twice, if any, to be reported once the verb (and so the usage) is known.
    """
    matches = list(_LABEL.finditer(text))
    if not matches:
        return text, {}, None
    fields: dict[str, str] = {}
    repeated: str | None = None
    for index, match in enumerate(matches):
        label = match.group(1).lower()
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        if label in fields:
            repeated = repeated or label
        fields[label] = text[match.end() : end].strip()
    return text[: matches[0].start()], fields, repeated


def _parse_grant(
    verb: Literal["add", "update", "break-glass"],
    tokens: list[str],
    fields: dict[str, str],
    catalogs: Mapping[str, RoleCatalog],
) -> GrantCommand:
    if not tokens:
        raise CommandError("Say who the access is for: an email address or an @mention.", verb, "target")
    target = parse_target(tokens[0], verb)
    if len(tokens) < 2:
        raise CommandError(f"Say which platform. Platforms: {_names(catalogs)}.", verb, "platform")
    platform = _parse_platform(tokens[1], catalogs, verb, allow_all=False)
    if len(tokens) < 3:
        roles = ", ".join(catalogs[platform].account_roles)
        raise CommandError(f"Say which role. Account roles on {platform}: {roles}.", verb, "role")
    scope_words, duration_words, until_words = _parse_clauses(tokens[3:], verb)
    return build_grant(
        verb,
        target=target,
        platform=platform,
        role=tokens[2],
        scopes=[name for name in re.split(r"[,\s]+", " ".join(scope_words)) if name],
        duration=" ".join(duration_words) or None,
        until=" ".join(until_words) or None,
        reason=fields.get("reason"),
        ticket=fields.get("ticket"),
        ticket_given="ticket" in fields,
        catalogs=catalogs,
    )


def build_grant(
    verb: Literal["add", "update", "break-glass"],
    *,
    target: Target,
    platform: str,
    role: str,
    scopes: list[str],
    duration: str | None,
    until: str | None,
    reason: str | None,
    ticket: str | None,
    ticket_given: bool = False,
    catalogs: Mapping[str, RoleCatalog],
) -> GrantCommand:
    """Validate the parts of an add/update, from the command line or the request form."""
    platform = _parse_platform(platform, catalogs, verb, allow_all=False)
    catalog = catalogs[platform]
    scope_names = _scope_list(scopes, platform, catalog, verb)
    change, canonical_role = _change_for(role, scope_names, platform, catalog, verb)
    expires_in, expires_at = _parse_expiry(duration, until, verb)
    if role.lower() == NO_ACCESS and (expires_in or expires_at):
        raise CommandError("Taking access away cannot be temporary; leave out `for`/`until`.", verb, "duration")
    reason_text, ticket_id = _reason_and_ticket(reason, ticket, ticket_given, verb)
    return GrantCommand(
        verb=verb,
        target=target,
        platform=platform,
        role=canonical_role,
        scopes=scope_names,
        change=change,
        duration=expires_in,
        until=expires_at,
        reason=reason_text,
        ticket=ticket_id,
    )


def _parse_clauses(tokens: list[str], verb: str) -> tuple[list[str], list[str], list[str]]:
    """Split `on a,b for 4h` / `until 2026-12-01 18:00` into their words."""
    clauses: dict[str, list[str]] = {}
    current: str | None = None
    for token in tokens:
        keyword = token.lower()
        if keyword in ("on", "for", "until"):
            if keyword in clauses:
                raise CommandError(f"`{keyword}` is given twice; give it once.", verb)
            current = keyword
            clauses[current] = []
        elif current is None:
            raise CommandError(
                f"Unexpected `{token}` after the role. Name scopes with `on`, a duration with `for` or `until`, "
                "and start the reason with `reason:`.",
                verb,
            )
        else:
            clauses[current].append(token)
    if "for" in clauses and "until" in clauses:
        raise CommandError("Give either `for <duration>` or `until <date>`, not both.", verb)
    for keyword, words in clauses.items():
        if not words:
            wanted = {"on": "a scope", "for": "a duration such as 4h", "until": "a date such as 2026-12-01"}[keyword]
            raise CommandError(f"`{keyword}` needs {wanted}.", verb)
    return clauses.get("on", []), clauses.get("for", []), clauses.get("until", [])


def _scope_list(names: list[str], platform: str, catalog: RoleCatalog, verb: str) -> tuple[str, ...]:
    scopes: list[str] = []
    for name in names:
        spec = catalog.scope(name)
        if spec is None:
            known = ", ".join(scope.name for scope in catalog.scopes) or "none are configured"
            raise CommandError(
                f"Unknown scope `{name}` on {platform}.{_suggest(name, [s.name for s in catalog.scopes])} "
                f"Scopes: {known}.",
                verb,
                "scopes",
            )
        if spec.name not in scopes:
            scopes.append(spec.name)
    return tuple(scopes)


def _change_for(
    role_word: str, scopes: tuple[str, ...], platform: str, catalog: RoleCatalog, verb: str
) -> tuple[AccessChange, str]:
    if not scopes:
        role = catalog.account_role(role_word)
        if role is None:
            scoped = [scope.name for scope in catalog.scopes if scope.role(role_word)]
            if role_word.lower() == NO_ACCESS:
                hint = " Name the scope with `on <scope>` to take one away."
            elif scoped:
                hint = f" `{role_word}` is a role on {', '.join(scoped)}: add `on <scope>`."
            else:
                hint = ""
            roles = ", ".join(catalog.account_roles)
            raise CommandError(
                f"`{role_word}` is not an account role on {platform}."
                f"{_suggest(role_word, catalog.account_roles)} Account roles: {roles}.{hint}",
                verb,
                "role",
            )
        return AccessChange(account_role=role), role
    if role_word.lower() == NO_ACCESS:
        if verb != "update":
            raise CommandError(
                f"`{verb}` grants access; use `update ... none on <scope>` to take a scope away.", verb, "role"
            )
        return AccessChange(scopes=dict.fromkeys(scopes)), NO_ACCESS
    per_scope: dict[str, str | None] = {}
    for scope in scopes:
        spec = catalog.scope(scope)
        assert spec is not None  # _scope_list checked it
        role = spec.role(role_word)
        if role is None:
            raise CommandError(
                f"`{role_word}` is not a role on {platform} {spec.kind} `{spec.name}`."
                f"{_suggest(role_word, spec.roles)} Roles there: {', '.join(spec.roles)}.",
                verb,
                "role",
            )
        per_scope[scope] = role
    return AccessChange(scopes=per_scope), next(r for r in per_scope.values() if r)


def _parse_expiry(duration: str | None, until: str | None, verb: str) -> tuple[timedelta | None, Until | None]:
    if duration and until:
        raise CommandError("Give either `for <duration>` or `until <date>`, not both.", verb, "duration")
    try:
        if duration:
            return parse_duration(duration), None
        if until:
            return None, parse_until(until)
    except DurationError as error:
        raise CommandError(f"{str(error)[0].upper()}{str(error)[1:]}.", verb, "duration") from error
    return None, None


def _parse_remove(tokens: list[str], fields: dict[str, str], catalogs: Mapping[str, RoleCatalog]) -> RemoveCommand:
    verb = "remove"
    if not tokens:
        raise CommandError("Say whose access to remove: an email address or an @mention.", verb, "target")
    target = parse_target(tokens[0], verb)
    if len(tokens) < 2:
        raise CommandError(f"Say which platform, or `all`. Platforms: {_names(catalogs)}.", verb, "platform")
    extra = tokens[2:]
    now = any(token.lower() == "now" for token in extra)
    methods = [token for token in extra if token.lower() != "now"]
    if len(methods) > 1 or len(extra) > 2:
        raise CommandError(f"Unexpected `{(methods or extra)[-1]}`; start the reason with `reason:`.", verb)
    return build_remove(
        target=target,
        platform=tokens[1],
        method=methods[0] if methods else None,
        reason=fields.get("reason"),
        ticket=fields.get("ticket"),
        ticket_given="ticket" in fields,
        catalogs=catalogs,
        now=now,
    )


def build_remove(
    *,
    target: Target,
    platform: str,
    method: str | None,
    reason: str | None,
    ticket: str | None,
    ticket_given: bool = False,
    catalogs: Mapping[str, RoleCatalog],
    now: bool = False,
) -> RemoveCommand:
    """Validate the parts of a removal, from the command line or the request form."""
    verb = "remove"
    platform = _parse_platform(platform, catalogs, verb, allow_all=True)
    removal: RemovalMethod | None = None
    if method:
        try:
            removal = RemovalMethod(method.lower())
        except ValueError:
            raise CommandError(
                f"`{method}` is not a removal method. Use `delete` (the member is removed; restoring needs a new "
                "invitation) or `revoke` (lowest role, no projects or sites, the account is kept).",
                verb,
                "method",
            ) from None
    reason_text, ticket_id = _reason_and_ticket(reason, ticket, ticket_given, verb)
    return RemoveCommand(
        target=target, platform=platform, method=removal, reason=reason_text, ticket=ticket_id, now=now
    )


def _parse_list(tokens: list[str], fields: dict[str, str], catalogs: Mapping[str, RoleCatalog]) -> ListCommand:
    if fields:
        raise CommandError("`list` takes no reason or ticket.", "list")
    target: Target | None = None
    platform: str | None = None
    for token in tokens:
        if catalogs and token.lower() in {name.lower() for name in catalogs} and platform is None:
            platform = _parse_platform(token, catalogs, "list", allow_all=False)
        elif target is None and _looks_like_person(token):
            target = parse_target(token, "list")
        else:
            raise CommandError(
                f"`{token}` is neither a person (email or @mention) nor a platform ({_names(catalogs)}).", "list"
            )
    return ListCommand(target=target, platform=platform)


def _request_id(verb: str, tokens: list[str], fields: dict[str, str]) -> int:
    if len(tokens) != 1 or fields:
        raise CommandError("Give one request id, as shown on the request card (for example 42).", verb)
    match = _REQUEST_ID.match(tokens[0])
    if not match:
        raise CommandError(f"`{tokens[0]}` is not a request id; request ids are numbers such as 42.", verb)
    return int(match.group(1))


def parse_target(token: str, verb: str) -> Target:
    if mention := _MENTION.match(token):
        return Target(slack_id=mention.group(1))
    if mailto := _MAILTO.match(token):
        token = mailto.group(1)
    if _EMAIL.match(token) and len(token) <= 254:
        return Target(email=token.lower())
    if token.startswith("@"):
        raise CommandError(
            f"`{token}` is not a Slack mention Slack could resolve. Pick the person from the @ menu, or type their "
            "email address.",
            verb,
            "target",
        )
    raise CommandError(f"`{token}` is not an email address or an @mention.", verb, "target")


def _looks_like_person(token: str) -> bool:
    return bool(_MENTION.match(token) or _MAILTO.match(token) or "@" in token)


def _parse_platform(token: str, catalogs: Mapping[str, RoleCatalog], verb: str, *, allow_all: bool) -> str:
    if allow_all and token.lower() == ALL_PLATFORMS:
        return ALL_PLATFORMS
    for name in catalogs:
        if name.lower() == token.lower():
            return name
    also = " or `all`" if allow_all else ""
    raise CommandError(
        f"Unknown platform `{token}`.{_suggest(token, catalogs)} Platforms: {_names(catalogs)}{also}.",
        verb,
        "platform",
        platforms=list(catalogs),
    )


def _reason_and_ticket(reason: str | None, ticket: str | None, ticket_given: bool, verb: str) -> tuple[str, str | None]:
    text = " ".join((reason or "").split())
    if not text:
        raise CommandError("Missing reason: end the command with `reason: <why the access is needed>`.", verb, "reason")
    if len(text) > MAX_REASON:
        raise CommandError(f"The reason is {len(text)} characters; keep it under {MAX_REASON}.", verb, "reason")
    ticket_id = (ticket or "").strip() or None
    if ticket_given and ticket_id is None:
        raise CommandError("`ticket:` is empty; give the ticket id or leave `ticket:` out.", verb, "ticket")
    if ticket_id is not None and (len(ticket_id) > MAX_TICKET or len(ticket_id.split()) > 1):
        raise CommandError("A ticket id is one word, such as OPS-1234.", verb, "ticket")
    return text, ticket_id


def _names(catalogs: Mapping[str, RoleCatalog]) -> str:
    return ", ".join(sorted(catalogs)) or "none are configured"


def _suggest(word: str, choices: Mapping[str, object] | tuple[str, ...] | list[str]) -> str:
    names = [str(choice) for choice in choices]
    lowered = word.lower()
    prefixed = [name for name in names if lowered and name.lower().startswith(lowered)]
    if len(prefixed) == 1:
        return f" Did you mean `{prefixed[0]}`?"
    close = difflib.get_close_matches(lowered, [name.lower() for name in names], n=1, cutoff=0.7)
    return f" Did you mean `{close[0]}`?" if close else ""
