"""The ``database`` health section (critical): a round trip plus the pool's metrics."""

from __future__ import annotations

import time

from sqlalchemy import text

import ocore_database
from ocore_database.database import describe_failure
from ocore_flask.health import CheckResult, HealthContributor, fail, ok


def check_database() -> CheckResult:
    """``SELECT 1`` through the pool; a failure carries the driver's reason (scrubbed later)."""
    db = ocore_database.db()
    started = time.perf_counter()
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return fail(f"query failed: {describe_failure(exc)}", data=db.stat())
    data = {**db.stat(), "ping_ms": round((time.perf_counter() - started) * 1000, 2)}
    return ok(data)


CONTRIBUTOR = HealthContributor(
    "database",
    check_database,
    critical=True,
    timeout=2.0,
    description="PostgreSQL round trip and pgxpool-style pool metrics.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
