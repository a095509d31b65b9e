"""The baseline for the agents benchmark: a bare Flask view doing the same single statement as
``POST /api/agents/push`` (``ocore_agents.store.PUSH``, in autocommit) on the same pool
(``ocore_database``'s PgxPool with its default bounds), and nothing else: no schema validation,
no token shape check, no security headers, no logging.

    gunicorn agents_bare_app:app        (with benchmarks/ on PYTHONPATH; DATABASE_URL set)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

from flask import Flask, Response, request

from ocore_agents.store import PUSH
from ocore_database.database import Database, PoolOptions
from ocore_database.url import parse_database_url

# As ocore's logging does: waitress's per-request queue-depth warning stays quiet.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)

database = Database(parse_database_url(os.environ["DATABASE_URL"]), PoolOptions())
database.start(timeout=15)
engine = database.engine.execution_options(isolation_level="AUTOCOMMIT")

app = Flask(__name__)


@app.get("/api/health")
def health() -> Response:
    """Readiness for the benchmark's server wrapper."""
    return Response(b'{"status":"ok"}', 200, mimetype="application/json")


@app.post("/api/agents/push")
def push() -> Response:
    """The push statement with the body as sent; 204, 401 or 429 as the real view answers."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    body = request.get_json()
    params = {
        "hash": hashlib.sha256(token.encode()).digest(),
        "version": body["version"],
        "hostname": body["hostname"],
        "snapshot": json.dumps(body, separators=(",", ":")),
        "min_gap": 0.0,
    }
    with engine.connect() as conn:
        row = conn.execute(PUSH, params).one()
    if row.pushed is not None:
        return Response(status=204, headers={"X-Agent-Interval": "30"})
    return Response(status=401 if not row.known else 429)
