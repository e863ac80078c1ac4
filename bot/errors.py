"""The error every command reports in one line (kept apart so that `accessbot --help` loads nothing more)."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration cannot be used; the message says what is wrong and how to fix it."""
