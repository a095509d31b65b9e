"""Formatters and the logging configuration: one record per text line, JSON keys per field,
secrets redacted and never held in a printable configuration."""

from __future__ import annotations

import json
import logging
import sys

from ocore_flask import logs
from ocore_flask.testing import JWT_SECRET


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("ocore_flask.access", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_escape_controls_keeps_a_record_on_one_line():
    assert logs.escape_controls("a\nb\r\tc\x1b[0m\x85\u2028d é") == (
        "a\\nb\\r\\tc\\x1b[0m\\x85\\u2028d é"
    )


def test_text_lines_escape_the_message_and_indent_tracebacks():
    formatter = logs.TextFormatter()
    try:
        raise ValueError("bad\n2026-12-01 04:40:00,000 CRITICAL forged")
    except ValueError:
        record = _record("GET %s 404", "/x\n2026 forged", request_id="r\n1")
        record.exc_info = sys.exc_info()
    lines = formatter.format(record).split("\n")
    assert "GET /x\\n2026 forged 404" in lines[0] and "[r\\n1]" in lines[0]
    assert all(line.startswith("    ") for line in lines[1:]) and len(lines) > 2


def test_json_lines_carry_each_access_field_as_a_key():
    fields = {
        "method": "GET",
        "path": "/a",
        "status": 200,
        "duration_ms": 1.5,
        "remote_addr": "10.0.0.1",
        "request_id": "abc",
    }
    record = _record("%s %s", "GET", "/a", **fields)
    logs.RedactingFilter([]).filter(record)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry.items() >= {**fields, "message": "GET /a", "level": "info"}.items()
    assert entry["logger"] == "ocore_flask.access" and entry["time"].endswith("+00:00")


def test_redaction_covers_extra_fields_and_the_config_never_holds_the_secret():
    record = _record("token %s", JWT_SECRET, path=f"/reset/{JWT_SECRET}")
    logs.RedactingFilter([JWT_SECRET]).filter(record)
    assert JWT_SECRET not in record.getMessage() and JWT_SECRET not in record.path
    for config in (
        logs.logging_config("json", "info", [JWT_SECRET]),
        logs.operator_config({"version": 1, "handlers": {"h": {}}}, [JWT_SECRET]),
    ):
        assert JWT_SECRET not in repr(config), "gunicorn prints its settings at debug"


def test_libraries_chatter_is_quiet_unless_the_operator_configures_it():
    ours = logs.logging_config("text", "info", [])["loggers"]
    assert ours["alembic.runtime.plugins"]["level"] == "WARNING"
    mine = {"version": 1, "loggers": {"alembic.runtime.plugins": {"level": "DEBUG"}}}
    theirs = logs.operator_config(mine, [])["loggers"]
    assert theirs["alembic.runtime.plugins"] == {"level": "DEBUG"}
    assert theirs["paramiko"]["level"] == "WARNING"
