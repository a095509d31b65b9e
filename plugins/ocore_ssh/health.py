"""The ``ssh_pool`` health section (not critical): the pool's counts (no I/O) and each server's
last reachability check (task ``ssh.check_servers``: one query on the servers table).

``degraded`` while a server's last connection failure is recent (``RECENT``), so an operator
sees a broken credential or an unreachable server; it recovers on its own once that ages. Also
``degraded`` while a server's last check failed, until a check succeeds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

import ocore_ssh
from ocore_flask.health import CheckResult, HealthContributor, degraded, ok
from ocore_flask.health.contributor import isoformat_utc
from ocore_ssh.hostkeys import SSHError

SECTION = "ssh_pool"
RECENT = timedelta(minutes=5)
SERVER_FIELDS = ("open", "in_use", "idle", "failures", "last_error")


def summarise(
    stats: dict[str, Any],
    now: datetime | None = None,
    checks: dict[str, dict[str, Any]] | None = None,
) -> CheckResult:
    """Turn ``SSHPool.stats()`` into the section: totals, per server the last error and time;
    ``checks``: each server's last check (None: unknown, the table could not be read)."""
    now = now or datetime.now(UTC)
    servers: dict[str, dict[str, Any]] = {}
    recent: list[str] = []
    for name, server in sorted(stats["servers"].items()):
        entry = {field: server[field] for field in SERVER_FIELDS}
        at = server["last_error_at"]
        moment = datetime.fromisoformat(at) if at else None
        entry["last_error_at"] = isoformat_utc(moment) if moment else None
        servers[name] = entry
        if moment is not None and now - moment <= RECENT:
            recent.append(name)
    data = {
        "open": stats["open"],
        "in_use": stats["in_use"],
        "idle": stats["idle"],
        "connection_failures": stats["connection_failures"],
        "max_per_host": stats["max_per_host"],
        "servers": servers,
        "last_checks": checks,
    }
    if stats["closed"]:
        return degraded("the SSH pool is closed", data=data)
    problems = []
    if recent:
        minutes = int(RECENT.total_seconds() // 60)
        problems.append(f"connection failures in the last {minutes}m: {', '.join(recent)}")
    failed = sorted(name for name, check in (checks or {}).items() if check["status"] == "failed")
    if failed:
        problems.append(f"last check failed: {', '.join(failed)}")
    if problems:
        return degraded("; ".join(problems), data=data)
    return ok(data)


def last_checks() -> dict[str, dict[str, Any]] | None:
    """Each checked server's last check (status, time, error line); None when unreadable."""
    try:
        found = ocore_ssh.ssh().servers.list()
    except (SQLAlchemyError, SSHError):
        return None
    return {
        s.name: {
            "status": s.last_check_status,
            "at": isoformat_utc(s.last_check_at),
            "error": s.last_check_error,
        }
        for s in found
        if s.last_check_at is not None
    }


def check_ssh_pool() -> CheckResult:
    """The app's pool counts (a lock and a few integers) and the servers' last checks."""
    return summarise(ocore_ssh.ssh().pool.stats(), checks=last_checks())


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_ssh_pool,
    critical=False,
    timeout=2.0,
    description="SSH pool: open, in use and idle connections, failures, last error per server; "
    "each server's last reachability check.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
