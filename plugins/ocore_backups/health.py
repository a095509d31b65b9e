"""The ``backups`` health section (not critical): backup freshness.

Counts of policies by state (ok, late, stale, never, and failing), the worst policies with the
age of their last success, ``degraded`` when any policy is late, stale, never backed up or
failing, or when policies exist but BACKUP_DIR is not set. One query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

import ocore_backups
from ocore_backups.errors import NotMigrated
from ocore_backups.freshness import PolicyFreshness, counts
from ocore_flask.health import CheckResult, HealthContributor, degraded, fail, ok
from ocore_flask.invocation import invoked

SECTION = "backups"
WORST = 5


def summarise(found: list[PolicyFreshness], destination_set: bool = True) -> CheckResult:
    """The section from every policy's freshness (worst first)."""
    tally = counts(found)
    data: dict[str, Any] = {
        "policies": len(found),
        "counts": tally,
        "worst": [item.to_dict() for item in found if not item.healthy][:WORST],
        "destination": "set" if destination_set else "missing",
    }
    problems = []
    if found and not destination_set:
        problems.append("BACKUP_DIR is not set")
    for state in ("stale", "never", "late"):
        names = [item.policy for item in found if item.state == state]
        if names:
            problems.append(f"{state}: {_names(names)}")
    failing = [item.policy for item in found if item.failing]
    if failing:
        problems.append(f"failing: {_names(failing)}")
    if problems:
        return degraded("; ".join(problems), data=data)
    return ok(data)


def _names(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def check_backups() -> CheckResult:
    """Every policy's freshness (one query) and whether a destination is configured."""
    service = ocore_backups.backups()
    try:
        found = service.freshness()
    except NotMigrated:
        return degraded(f"backup tables missing: run `{invoked('db upgrade')}`")
    except SQLAlchemyError as exc:
        reason = type(getattr(exc, "orig", None) or exc).__name__
        return fail(f"cannot read the backup policies: {reason}")
    return summarise(found, service.destination is not None)


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_backups,
    critical=False,
    timeout=2.0,
    description="Backup freshness: policies by state (ok, late, stale, never, failing) and the "
    "worst ones with the age of their last successful backup.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
