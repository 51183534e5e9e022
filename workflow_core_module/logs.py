"""Structured logging in the AAA convention: every line has a category.

* AUDIT  - who changed what (one line per mutation; the audit_log table holds the same)
* SYSTEM - lifecycle and scheduler events
* ERROR  - failures

``LOG_FORMAT=json`` writes one JSON object per line; ``text`` writes
``2026-11-22T10:00:00Z INFO AUDIT schedule.create actor=... schedule_id=...``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k not in ("category", "action")}


def _category(record: logging.LogRecord) -> str:
    category = getattr(record, "category", None)
    if category:
        return str(category)
    return "ERROR" if record.levelno >= logging.ERROR else "SYSTEM"


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "category": _category(record),
            "logger": record.name,
        }
        action = getattr(record, "action", None)
        if action:
            entry["action"] = action
        entry["message"] = record.getMessage()
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, _category(record)]
        action = getattr(record, "action", None)
        if action:
            parts.append(str(action))
        parts.append(record.getMessage())
        parts.extend(f"{k}={v}" for k, v in _extras(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # hypercorn's access log duplicates our request metrics; keep its errors.
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)


def audit(logger: logging.Logger, action: str, message: str, **fields: Any) -> None:
    logger.info(message, extra={"category": "AUDIT", "action": action, **fields})


def system(logger: logging.Logger, action: str, message: str, **fields: Any) -> None:
    logger.info(message, extra={"category": "SYSTEM", "action": action, **fields})
