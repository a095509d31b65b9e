"""Logging: one handler on the ``ocore_flask`` logger tree, text or JSON lines, and a filter that
redacts configured secrets and credential-shaped strings from every record."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, g, has_request_context

from ocore_flask.redact import Scrubber

if TYPE_CHECKING:
    from ocore_flask.config.loader import Config

QUIET_LOGGERS = ("paramiko", "waitress.queue")
_HANDLER_FLAG = "_ocore_handler"


class RedactingFilter(logging.Filter):
    """Renders each record's message once, redacted, so no formatter sees the raw arguments."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._scrubber = Scrubber(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._scrubber.text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrubber.text(record.exc_text)
        record.request_id = _request_id()
        return True


def _request_id() -> str | None:
    if has_request_context():
        return g.get("request_id")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message`` for people."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{request_id}]" if request_id else ""
        return super().format(record)


def init_app(app: Flask, config: Config) -> None:
    """Configure the root logger (this is an application: plugins and libraries included) from
    LOG_LEVEL and LOG_FORMAT, replacing any handler an earlier app of this process installed."""
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_FLAG, True)
    handler.setFormatter(JsonFormatter() if config["LOG_FORMAT"] == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(config.secret_values()))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(config["LOG_LEVEL"]).upper()))
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    app.logger.handlers.clear()
