"""One notion of a person, for every "is this their own access?" check: the Slack user id where known, else a
canonical email. Two spellings of one mailbox are one person: case, Unicode look-alikes (NFKC) and plus-addressing
(`bob+ops@client.example` is delivered to `bob@client.example`, so it is bob).

Plus-addressing is on for every domain unless the config says otherwise (`policy.people`): a domain whose mail
server treats `+` as part of the name has different people at `bob+ops@` and `bob@`.
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


class Mailboxes(BaseModel):
    """The `policy.people:` section: how two addresses are recognised as one mailbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Whether `name+tag@domain` reaches `name@domain`, for every domain not listed below.
    plus_addressing: bool = True
    # Per domain (e.g. `legacy.example: false`), overriding `plus_addressing` there.
    plus_addressing_domains: dict[str, bool] = Field(default_factory=dict)

    @field_validator("plus_addressing_domains")
    @classmethod
    def _domains(cls, value: dict[str, bool]) -> dict[str, bool]:
        domains = {_folded(domain).lstrip("@"): on for domain, on in value.items()}
        for domain in domains:
            if not domain or "@" in domain:
                raise ValueError(f"{domain!r} is not a mail domain: write the part after the @, e.g. client.example")
        return domains

    def canonical(self, email: str) -> str:
        """The mailbox an address reaches: NFKC, case-folded, without a `+tag` where the domain drops it."""
        folded = _folded(email)
        local, at, domain = folded.rpartition("@")
        if not at or not self.plus_addressing_domains.get(domain, self.plus_addressing):
            return folded
        return f"{local.split('+', 1)[0] or local}@{domain}"

    def same(self, one: str | None, other: str | None) -> bool:
        """Whether two addresses reach the same person (False when either is unknown)."""
        return bool(one) and bool(other) and self.canonical(one or "") == self.canonical(other or "")
