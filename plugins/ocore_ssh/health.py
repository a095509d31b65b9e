"""The ``ssh_pool`` health section (not critical): the pool's counts, read without any I/O.

``degraded`` while a server's last connection failure is recent (``RECENT``), so an operator
sees a broken credential or an unreachable server; it recovers on its own once that ages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ocore_ssh
from ocore_flask.health import CheckResult, HealthContributor, degraded, ok
from ocore_flask.health.contributor import isoformat_utc

SECTION = "ssh_pool"
RECENT = timedelta(minutes=5)
SERVER_FIELDS = ("open", "in_use", "idle", "failures", "last_error")


def summarise(stats: dict[str, Any], now: datetime | None = None) -> CheckResult:
    """Turn ``SSHPool.stats()`` into the section: totals, per server the last error and time."""
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
    }
    if stats["closed"]:
        return degraded("the SSH pool is closed", data=data)
    if recent:
        minutes = int(RECENT.total_seconds() // 60)
        return degraded(
            f"connection failures in the last {minutes}m: {', '.join(recent)}", data=data
        )
    return ok(data)


def check_ssh_pool() -> CheckResult:
    """The app's pool counts (a lock and a few integers: no network, no database)."""
    return summarise(ocore_ssh.ssh().pool.stats())


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_ssh_pool,
    critical=False,
    timeout=1.0,
    description="SSH pool: open, in use and idle connections, failures, last error per server.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
