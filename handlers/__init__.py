"""Slack listeners. Nothing outside this package imports Slack's SDK except the composition root in bot/.

handlers/answers.py answers every request at once without the database (all that serve's front loads);
handlers/listening.py binds the work behind each answer, which runs where the database is.
"""
