"""Who is who in Slack, through the Web API, cached briefly so a burst of clicks costs one lookup."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.outbox import is_transient
from services.ports import Person, PersonNotFound

T = TypeVar("T")
logger = logging.getLogger("accessbot.slack")


class SlackDirectory:
    def __init__(self, client: WebClient, *, ttl: float = 120.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def person(self, slack_id: str) -> Person:
        return self._cached(("user", slack_id), lambda: self._fetch_person(slack_id))

    def person_by_email(self, email: str) -> Person | None:
        try:
            return self._cached(("email", email.lower()), lambda: self._fetch_by_email(email))
        except (SlackClientError, OSError) as error:
            if not is_transient(error):
                raise
            # Only a nicety (a mention next to an email someone typed): go on without it.
            logger.warning("Slack is unreachable; not looking up %s", email)
            return None

    def group_members(self, group_id: str) -> frozenset[str]:
        def fetch() -> frozenset[str]:
            response = self._client.usergroups_users_list(usergroup=group_id)
            return frozenset(response.get("users") or [])

        return self._cached(("group", group_id), fetch)

    def _cached(self, key: tuple[str, str], fetch: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        try:
            value = fetch()
        except (SlackClientError, OSError) as error:
            if hit is None or not is_transient(error):
                raise
            # Slack is unreachable: who someone was a few minutes ago beats refusing their click.
            logger.warning("Slack is unreachable; using what it said about %s %s before", *key)
            return hit[1]
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def _fetch_person(self, slack_id: str) -> Person:
        try:
            response = self._client.users_info(user=slack_id)
        except SlackApiError as error:
            if error.response.get("error") in ("user_not_found", "user_not_visible"):
                raise PersonNotFound(f"Slack does not know the member {slack_id}") from error
            raise
        return _person(response["user"])

    def _fetch_by_email(self, email: str) -> Person | None:
        try:
            response = self._client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            if error.response.get("error") == "users_not_found":
                return None
            raise
        return _person(response["user"])


def _person(user: dict[str, Any]) -> Person:
    profile = user.get("profile") or {}
    return Person(
        slack_id=user["id"],
        email=(profile.get("email") or "").lower() or None,
        name=profile.get("real_name") or user.get("real_name") or user.get("name") or "",
        tz=user.get("tz"),
        is_workspace_admin=bool(user.get("is_admin") or user.get("is_owner")),
    )


def unknown_ids(client: WebClient, slack_ids: Iterable[str]) -> dict[str, str]:
    """Which of these user (U..., W...) and user group (S...) ids do not work in this workspace, with what Slack
    answered for each. Raises what the client raises when Slack cannot be reached."""
    unknown: dict[str, str] = {}
    for slack_id in slack_ids:
        try:
            if slack_id.startswith("S"):
                client.usergroups_users_list(usergroup=slack_id)
            else:
                response = client.users_info(user=slack_id)
                if (response.get("user") or {}).get("deleted"):
                    unknown[slack_id] = "the member is deactivated"
        except SlackApiError as error:
            code = str(error.response.get("error"))
            if code in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
                raise
            unknown[slack_id] = code
    return unknown
