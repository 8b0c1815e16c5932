"""Logging set-up, done once by the CLI: readable on a terminal, JSON lines otherwise."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from monitor.redact import RedactingFormatter, redact

_NOISY = ("httpx", "httpcore", "apscheduler", "apprise", "trafilatura", "htmldate", "courlan", "asyncio")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald, Docker and log shippers.

    Each field is redacted before it is encoded: a secret holding a ``"`` or a ``\\`` (or
    a control character) is escaped in the line, where the redaction of the whole line
    would no longer find it."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(*, verbose: int = 0, fmt: str = "auto") -> None:
    """Configure the root logger; third-party loggers stay at WARNING unless -vv."""
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.setFormatter(RedactingFormatter(handler.formatter or logging.Formatter()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 0 else logging.INFO)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)
