"""The error every command reports in one line (kept apart so that `accessbot --help` loads nothing more)."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration cannot be used; the message says what is wrong and how to fix it."""


def database_problem(url: str, error: Exception) -> str:
    """One line: which database, what it answered, and where to change it."""
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    answer = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if shown.startswith("sqlite"):
        hint = "check that its folder exists and is writable"
    else:
        hint = "check that the server runs and accepts this address and login"
    return (
        f"cannot use the database at {shown}: {answer}. {hint.capitalize()}, or change database_url "
        "(ACCESSBOT_DATABASE_URL)."
    )
