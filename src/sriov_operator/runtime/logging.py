"""Process logging: key=value text lines by default, one JSON object per line on request.

Loggers are per module (``logging.getLogger(__name__)``). A line about an
object passes ``extra={"object": ref(obj)}`` (``api.refs.ref``) and is printed with
``object=Kind/ns/name``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

__all__ = ["JsonFormatter", "KeyValueFormatter", "configure_logging", "set_level"]

# Attributes callers may pass in ``extra`` that the formatters print, in this order.
EXTRA_FIELDS = ("object", "controller", "key", "reason", "attempt", "delay")


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = {
        "time": _timestamp(record),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for name in EXTRA_FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = value
    return fields


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return json.dumps(text)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return " ".join(f"{key}={_quote(value)}" for key, value in fields.items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str)


def configure_logging(format: str = "text", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr) in ``format``, replacing earlier handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    set_level(level)


def set_level(level: str) -> bool:
    """Log at ``level`` from now on (also when the SriovOperatorConfig's logLevel changes);
    False when that already is the level."""
    root = logging.getLogger()
    wanted = logging.getLevelName(level.upper())
    if root.level == wanted:
        return False
    root.setLevel(wanted)
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
    return True
