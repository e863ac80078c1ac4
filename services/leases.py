"""Keeping claims alive while their holder works: a platform call may take longer than a lease.

A claim's lease is what lets another worker take over from one that died. A worker that is merely slow must not lose
its claim for it, so while it holds one, a background thread moves the lease on every third of its length. If the
renewal fails (the database is unreachable, or the claim was taken over after all), the fence still protects the
ledger: the slow worker's outcome is refused and the new holder reads the platform instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy.engine import Engine

from services.ports import Clock
from storage.db import session_scope
from storage.ledger import Claim, renew
from storage.models import PlatformAccount, PlatformClaim

logger = logging.getLogger("accessbot.services")

Table = type[PlatformAccount] | type[PlatformClaim]


class LeaseKeeper:
    """Renews the leases of the claims this process holds. The thread starts with the first claim held."""

    def __init__(self, engine: Engine, clock: Clock, lease: timedelta) -> None:
        self._engine = engine
        self._clock = clock
        self.lease = lease
        self._held: dict[tuple[Table, int | str], int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    @contextmanager
    def holding(self, table: Table, *claims: Claim) -> Iterator[None]:
        """Keep `claims` alive for the duration of the block."""
        with self._lock:
            for claim in claims:
                self._held[(table, claim.key)] = claim.fence
            if not self._stopped and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                for claim in claims:
                    if self._held.get((table, claim.key)) == claim.fence:
                        del self._held[(table, claim.key)]

    def renew_now(self) -> None:
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        until = self._clock.now() + self.lease
        with session_scope(self._engine) as session:
            for table in (PlatformAccount, PlatformClaim):
                claims = [(key, fence) for (kind, key), fence in held.items() if kind is table]
                if claims:
                    kept = renew(session=session, table=table, claims=claims, until=until)
                    for key, _ in claims:
                        if key not in kept:
                            logger.warning("lost the claim on %s %s: another worker took it over", table.__name__, key)

    def _run(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.05)
        while not self._wake.wait(interval):
            try:
                self.renew_now()
            except Exception:
                # The next round tries again; meanwhile the fence keeps a late outcome from being recorded.
                logger.exception("could not renew leases")

    def stop(self) -> None:
        """Renew nothing any more (at shutdown; a test uses it to play a holder that lost the database)."""
        with self._lock:
            self._stopped = True
        self._wake.set()
