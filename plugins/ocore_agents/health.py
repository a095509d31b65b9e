"""The ``agents`` health section (not critical), from one query: counts by status, the oldest
last push, and the names of the stalest few. ``degraded`` while any registered agent is stale
or offline (an agent that never pushed yet, or a revoked one, does not degrade it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import ocore_agents
from ocore_agents.errors import AgentsNotMigrated
from ocore_agents.status import thresholds
from ocore_flask.health import CheckResult, HealthContributor, degraded, fail, ok
from ocore_flask.health.contributor import isoformat_utc

SECTION = "agents"


def describe(summary: dict[str, Any], interval: timedelta) -> CheckResult:
    """The section from ``AgentStore.summary()``'s row."""
    online, stale = thresholds(interval)
    oldest = summary["oldest_last_seen"]
    data = {
        "registered": summary["registered"],
        "online": summary["online"],
        "stale": summary["stale"],
        "offline": summary["offline"],
        "never": summary["never"],
        "revoked": summary["revoked"],
        "worst": list(summary["worst"]),
        "oldest_last_seen": isoformat_utc(oldest) if oldest is not None else None,
        "oldest_age_s": None
        if oldest is None
        else round(max((summary["now"] - oldest).total_seconds(), 0.0), 3),
        "push_interval_s": interval.total_seconds(),
        "online_within_s": online.total_seconds(),
        "stale_within_s": stale.total_seconds(),
    }
    late = [f"{data[s]} {s}" for s in ("offline", "stale") if data[s]]
    if late:
        return degraded(f"agents {' and '.join(late)}: {', '.join(data['worst'])}", data=data)
    return ok(data)


def check_agents() -> CheckResult:
    """Counts by status; ``fail`` (not an exception) when the database cannot answer."""
    service = ocore_agents.agents()
    try:
        summary = service.summary()
    except AgentsNotMigrated:
        return fail("the agents table is missing: run `ocore db upgrade`")
    except Exception as exc:  # the database section says why; this one says what it means
        return fail(f"cannot read the agents: the database did not answer ({type(exc).__name__})")
    return describe(summary, service.settings.push_interval.to_timedelta())


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_agents,
    critical=False,
    timeout=2.0,
    description="Agents: counts by status (online/stale/offline/never), the stalest few; "
    "degraded while any is stale or offline.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
