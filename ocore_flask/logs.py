"""Logging: one handler on the root logger writing text or JSON lines (python-json-logger), or
the operator's own ``dictConfig`` file (``LOG_CONFIG``); in every case a filter redacts the
configured secrets and credential-shaped strings from every record.

The same configuration is applied by the app (``init_app``) and, as its ``logconfig_dict``, by
the gunicorn master, so gunicorn's own lines share the format."""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, request
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _PythonJsonFormatter

from ocore_flask.errors import EX_CONFIG, StartupError
from ocore_flask.logconfig import read_log_config
from ocore_flask.middleware import request_id_of
from ocore_flask.redact import Scrubber

if TYPE_CHECKING:
    from ocore_flask.config.loader import Config

# Loggers that are noise at info (paramiko's handshakes, alembic's seven "setup plugin" lines
# on every start), or that warn on every request under load (waitress's "Task queue depth"):
# only their warnings or errors are kept.
QUIET_LOGGERS = {
    "paramiko": logging.WARNING,
    "waitress.queue": logging.ERROR,
    "alembic.runtime.plugins": logging.WARNING,
}
REDACT_FILTER = "ocore_redact"
_STANDARD_ATTRS = frozenset(RESERVED_ATTRS) | {"message", "asctime", "request_id"}
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    r"""``text`` on one line: control characters as escapes (``\n``, ``\x1b``, ``\u2028``)."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class RedactingFilter(logging.Filter):
    """Renders each record's message once, redacted, so no formatter sees the raw arguments;
    redacts its exception text and string extras (access-log fields) too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._scrubber = Scrubber(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._scrubber.text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrubber.text(record.exc_text)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self._scrubber.text(value))
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id()
        return True


def _request_id() -> str | None:
    if has_request_context():
        return request_id_of(request.environ)
    return None


class JsonFormatter(_PythonJsonFormatter):
    """One JSON object per line: time, level, logger, message, then every extra field as its
    own key (request_id; method, path, status, duration_ms, remote_addr on access lines) and
    the exception."""

    def __init__(self) -> None:
        super().__init__(
            "{message}",
            style="{",
            rename_fields={"exc_info": "exception", "stack_info": "stack"},
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """ocore's keys first (time in UTC with milliseconds, lower-case level), then the rest."""
        created = datetime.fromtimestamp(record.created, UTC)
        log_data["time"] = created.isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname.lower()
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)
        if log_data.get("request_id") is None:
            log_data.pop("request_id", None)


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message`` for people, one record per line: control
    characters in the message are escaped (a request cannot forge a line) and exception lines
    are indented under it."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line, plus its indented traceback if any."""
        record.message = escape_controls(record.getMessage())
        request_id = getattr(record, "request_id", None)
        rid = f" [{escape_controls(str(request_id))}]" if request_id else ""
        line = self._fmt % {  # type: ignore[operator]
            **vars(record),
            "asctime": self.formatTime(record, self.datefmt),
            "rid": rid,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, record.stack_info):
            if block:
                line += "".join(f"\n    {escape_controls(part)}" for part in block.split("\n"))
        return line


class OcoreHandler(logging.StreamHandler):
    """ocore's stderr handler: a later ``install`` replaces it instead of stacking another."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)


def logging_config(log_format: str, level: str, secrets: Iterable[str]) -> dict[str, Any]:
    """ocore's logging as a ``dictConfig`` mapping (gunicorn's ``logconfig_dict`` uses it):
    the root handler, the servers' loggers propagating to it, quiet libraries."""
    level = level.upper()
    formatter = JsonFormatter if log_format.lower() == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {REDACT_FILTER: {"()": _redacting(secrets)}},
        "formatters": {"ocore": {"()": formatter}},
        "handlers": {
            "ocore": {"()": OcoreHandler, "formatter": "ocore", "filters": [REDACT_FILTER]}
        },
        "root": {"level": level, "handlers": ["ocore"]},
        "loggers": {
            **server_loggers(level),
            **_quiet(level, {}),
        },
    }


#: The WSGI servers' own loggers: no handlers of their own, so their lines take ocore's format.
SERVER_LOGGERS = ("gunicorn.error", "gunicorn.access", "_granian", "granian.access")


def server_loggers(level: str) -> dict[str, Any]:
    """``dictConfig`` entries sending the servers' loggers to the root handler at ``level``."""
    return {
        name: {"level": level.upper(), "handlers": [], "propagate": True} for name in SERVER_LOGGERS
    }


def server_config(
    log_format: str, level: str, secrets: Iterable[str], config_file: str | None = None
) -> dict[str, Any]:
    """The ``dictConfig`` mapping for a server's master process (gunicorn's ``logconfig_dict``,
    granian's ``log_dictconfig``): ours, or the operator's LOG_CONFIG file with redaction added,
    and the servers' loggers sent to the root handler unless the file configures them."""
    if not config_file:
        return logging_config(log_format, level, secrets)
    own = read_log_config(config_file)
    loggers = {**server_loggers(level), **(own.get("loggers") or {})}
    return operator_config({**own, "loggers": loggers}, secrets)


def operator_config(mapping: dict[str, Any], secrets: Iterable[str]) -> dict[str, Any]:
    """An operator's ``dictConfig`` mapping with the redaction filter on every handler,
    existing loggers kept enabled unless it says otherwise, and libraries quiet unless it
    configures them itself."""
    config = dict(mapping)
    config.setdefault("disable_existing_loggers", False)
    filters = dict(config.get("filters") or {})
    filters[REDACT_FILTER] = {"()": _redacting(secrets)}
    config["filters"] = filters
    handlers = {}
    for name, handler in (config.get("handlers") or {}).items():
        handler = dict(handler)
        handler["filters"] = [*handler.get("filters", []), REDACT_FILTER]
        handlers[name] = handler
    config["handlers"] = handlers
    root_level = str((config.get("root") or {}).get("level", "WARNING"))
    config["loggers"] = {
        **_quiet(root_level, config.get("loggers") or {}),
        **(config.get("loggers") or {}),
    }
    return config


def _redacting(secrets: Iterable[str]) -> Callable[[], RedactingFilter]:
    # A closure, not the list: the mapping may be printed (gunicorn's debug config dump).
    kept = list(secrets)

    def factory() -> RedactingFilter:
        return RedactingFilter(kept)

    return factory


def _quiet(level: str, configured: dict[str, Any]) -> dict[str, Any]:
    floor = logging.getLevelName(level.upper())
    floor = floor if isinstance(floor, int) else logging.INFO
    return {
        name: {"level": logging.getLevelName(max(quiet, floor))}
        for name, quiet in QUIET_LOGGERS.items()
        if name not in configured
    }


def apply(config: dict[str, Any], config_file: str | None = None) -> None:
    """``dictConfig(config)``; a mapping from LOG_CONFIG that it refuses is a StartupError
    (exit 78) naming the variable, not a traceback."""
    try:
        logging.config.dictConfig(config)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        if not config_file:
            raise
        reason = f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)
        raise StartupError(
            f"ocore: LOG_CONFIG={config_file} is not a configuration logging.config.dictConfig "
            f"accepts ({reason}). Fix the file, or unset LOG_CONFIG to use LOG_FORMAT/LOG_LEVEL",
            exit_code=EX_CONFIG,
        ) from None


def install(
    log_format: str, level: str, secrets: Iterable[str], config_file: str | None = None
) -> None:
    """Configure logging for this process (an application: plugins and libraries included).

    Without ``config_file``: ocore's handler on the root logger, replacing one an earlier app
    of this process (or the gunicorn master) installed; other handlers are left alone. With
    it: the operator's dictConfig file, with ocore's redaction added to every handler."""
    if config_file:
        apply(operator_config(read_log_config(config_file), secrets), config_file)
        return
    config = logging_config(log_format, level, secrets)
    handler = OcoreHandler()
    handler.setFormatter(config["formatters"]["ocore"]["()"]())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, OcoreHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config["root"]["level"])
    for name, settings in config["loggers"].items():
        if name not in SERVER_LOGGERS:
            logging.getLogger(name).setLevel(settings["level"])


def init_app(app: Flask, config: Config) -> None:
    """Logging from LOG_FORMAT and LOG_LEVEL (or LOG_CONFIG), redacting the configured secrets."""
    install(
        config["LOG_FORMAT"],
        str(config["LOG_LEVEL"]),
        config.secret_values(),
        config.get("LOG_CONFIG"),
    )
    app.logger.handlers.clear()
