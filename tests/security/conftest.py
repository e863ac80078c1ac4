"""The security tests attack the bot through its real endpoint, started as the end-to-end tests start it."""

from tests.e2e.conftest import bot, start_bot

__all__ = ["bot", "start_bot"]
