"""A benchmark-only plugin for ``auth_bench.py``: two routes with identical bodies, one guarded by
``require()`` (any signed-in user), one open, so the difference is the guard and nothing else.

    gunicorn auth_wsgi:app          (with benchmarks/ on PYTHONPATH; see auth_wsgi.py)
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from ocore_auth import require
from ocore_flask.plugin import Plugin

BODY = b'{"ok":true}'
OPEN_PATH = "/api/authbench/open"
GUARDED_PATH = "/api/authbench/guarded"

blp = Blueprint("authbench", __name__, url_prefix="/api/authbench", description="Benchmark only.")


def _answer() -> Response:
    return Response(BODY, 200, {"Cache-Control": "no-store"}, mimetype="application/json")


@blp.route("/open", methods=["GET"])
def open_view() -> Response:
    """The body, to anyone."""
    return _answer()


@blp.route("/guarded", methods=["GET"])
@require()
def guarded_view() -> Response:
    """The same body, to a signed-in user only."""
    return _answer()


def blueprints() -> list[Any]:
    """The ``api_blueprints`` hook."""
    return [blp]


plugin = Plugin(
    "authbench",
    "Benchmark only: one open and one guarded route with the same body.",
    requires=("auth",),
    hooks={"api_blueprints": blueprints},
)
