"""``LOG_CONFIG``: an operator's own ``logging.config.dictConfig`` file (JSON), read and checked
without importing the logging machinery (``ocore config check`` stays fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIX = 'a JSON object for logging.config.dictConfig, e.g. {"version": 1, "root": {...}}'


def read_log_config(path: str) -> dict[str, Any]:
    """The dictConfig mapping in the JSON file at ``path``; ValueError names what is wrong."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"must be the path of a readable file holding {FIX}; no such file")
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise ValueError(f"must be a readable UTF-8 file holding {FIX}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"must hold {FIX}; invalid JSON at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(loaded, dict) or loaded.get("version") != 1:
        raise ValueError(f'must hold {FIX} with "version": 1')
    return loaded


def log_config_file(raw: str) -> str:
    """Parse LOG_CONFIG: the path, once the file is known to hold a dictConfig mapping."""
    read_log_config(raw)
    return raw
