"""Logging: plain lines for a terminal, or one JSON object per line for a log pipeline (`log_format: json`).

Every line carries the instance (host:pid) and, when the work is about an access request, its id, so that one
request can be followed across bot processes.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from services.logs import REQUEST_ID, worker_name


class ContextFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.instance = worker_name()

    def filter(self, record: logging.LogRecord) -> bool:
        record.instance = self.instance
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "instance": getattr(record, "instance", None),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request = f" [request #{request_id}]" if request_id is not None else ""
        return super().format(record)


def configure_logging(level: str, log_format: str = "text", *, to_file: Path | None = None) -> None:
    """Log lines to standard error, or appended to `to_file` (the console, whose chat they would interleave)."""
    handler: logging.Handler = logging.FileHandler(to_file, encoding="utf-8") if to_file else logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic and APScheduler narrate every start and job run at INFO, httpx every request (with its query: a SCIM
    # filter names a person); what matters is logged by the bot itself.
    for chatty in ("apscheduler", "alembic", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
