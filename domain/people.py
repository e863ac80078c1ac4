"""One notion of a person, for every "is this their own access?" check: the Slack user id where known, else a
canonical email. Two spellings of one mailbox are one person: case, Unicode look-alikes (NFKC) and plus-addressing
(`bob+ops@client.example` is delivered to `bob@client.example`, so it is bob)."""

from __future__ import annotations

import unicodedata


def canonical_email(email: str) -> str:
    """The mailbox an address reaches: NFKC, case-folded, without a `+tag` in its local part."""
    folded = unicodedata.normalize("NFKC", email).strip().casefold()
    local, at, domain = folded.rpartition("@")
    if not at:
        return folded
    return f"{local.split('+', 1)[0] or local}@{domain}"


def same_mailbox(one: str | None, other: str | None) -> bool:
    """Whether two addresses reach the same person (False when either is unknown)."""
    return bool(one) and bool(other) and canonical_email(one or "") == canonical_email(other or "")
