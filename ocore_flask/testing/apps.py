"""Apps for plugin tests: an app built with explicit plugins and its rich health view."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask

from ocore_flask.app import create_app
from ocore_flask.state import get_state
from ocore_flask.testing.environ import development_environ

AUTH_HEADER = "Authorization"


def make_app(plugins: Sequence[Any], environ: Mapping[str, str] | None = None) -> Flask:
    """An app with exactly ``plugins`` (no discovery); close it with ``ocore_flask.close_app``.

    In a test, prefer the ``make_app`` fixture (``make_app(environ, plugins)``), which closes
    every app it built when the test ends.
    """
    return create_app(dict(environ) if environ is not None else development_environ(), plugins)


def rich_health(app: Flask) -> tuple[int, dict[str, Any]]:
    """GET /api/health with the app's token: (status code, payload)."""
    token = get_state(app).config.plain("HEALTH_CHECK_TOKEN")
    if not token:
        raise ValueError("the app has no HEALTH_CHECK_TOKEN; build it with development_environ()")
    response = app.test_client().get("/api/health", headers={AUTH_HEADER: f"Bearer {token}"})
    return response.status_code, response.get_json()


def cli_json(result: Any) -> Any:
    """A command's ``--json`` stdout, parsed; a test failure showing its output otherwise
    (``result``: a click ``Result`` or a ``CompletedProcess``)."""
    try:
        return json.loads(result.stdout)
    except ValueError:
        code = getattr(result, "exit_code", getattr(result, "returncode", None))
        output = getattr(result, "output", None) or f"{result.stdout}{result.stderr or ''}"
        raise AssertionError(f"not JSON (exit {code}): {output}") from None
