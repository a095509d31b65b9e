"""The ``database`` health section (critical): a round trip plus the pool's metrics."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ocore_flask.health import CheckResult, HealthContributor, fail, ok
from ocore_flask.state import plugin_state

if TYPE_CHECKING:
    from ocore_database.database import Database


def check_database() -> CheckResult:
    """``SELECT 1`` through the pool; a failure carries the driver's reason (scrubbed later)."""
    from sqlalchemy import text

    from ocore_database.database import describe_failure

    db: Database = plugin_state("database")
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
