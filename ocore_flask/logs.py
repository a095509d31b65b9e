"""Logging: one handler on the ``ocore_flask`` logger tree, text or JSON lines, and a filter that
redacts configured secrets and credential-shaped strings from every record."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, request

from ocore_flask.middleware import request_id_of
from ocore_flask.redact import Scrubber

if TYPE_CHECKING:
    from ocore_flask.config.loader import Config

# Loggers that are noise at info (paramiko's handshakes), or that warn on every request under
# load (waitress's "Task queue depth"): only their errors are kept.
QUIET_LOGGERS = {"paramiko": logging.WARNING, "waitress.queue": logging.ERROR}
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
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id()
        return True


def _request_id() -> str | None:
    if has_request_context():
        return request_id_of(request.environ)
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


def install(log_format: str, level: str, secrets: Iterable[str]) -> None:
    """Configure the root logger (this is an application: plugins and libraries included),
    replacing any handler an earlier app of this process installed."""
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_FLAG, True)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    for noisy, noisy_level in QUIET_LOGGERS.items():
        logging.getLogger(noisy).setLevel(max(noisy_level, root.level))


def init_app(app: Flask, config: Config) -> None:
    """Logging from LOG_FORMAT and LOG_LEVEL, redacting the configured secrets."""
    install(config["LOG_FORMAT"], str(config["LOG_LEVEL"]), config.secret_values())
    app.logger.handlers.clear()
