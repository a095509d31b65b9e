"""The baseline for the health benchmark: a bare Flask app answering ``/api/health`` with the
same bytes as ocore's anonymous view, and nothing else (no plugins, headers or logging).

    waitress-serve bare_app:app        gunicorn bare_app:app     (with benchmarks/ on PYTHONPATH)
"""

from __future__ import annotations

from flask import Flask, Response

BODY = b'{"status":"ok"}'

app = Flask(__name__)


@app.get("/api/health")
def health() -> Response:
    """Exactly the anonymous health body."""
    return Response(BODY, 200, {"Cache-Control": "no-store"}, mimetype="application/json")
