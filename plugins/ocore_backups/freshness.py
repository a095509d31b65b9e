"""Freshness of each policy: how long ago its last success was, against its max age and grace.

- ``ok``: the last success is younger than ``max_age``;
- ``late``: older, but within ``max_age + grace``;
- ``stale``: older than that;
- ``never``: no success yet.

Independently, a policy is ``failing`` when its last BACKUP_FAILING_AFTER finished runs all
failed, even while its last success is still fresh. The rating is the host's freshness helper
(``ocore_flask.health.freshness``), so every section reads ages alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from ocore_backups.policies import go_duration, missing_tables
from ocore_flask.health.freshness import format_age, freshness

STATES = ("ok", "late", "stale", "never")
#: worst first: how the health section and ``backups status`` order policies
SEVERITY = {"stale": 0, "never": 1, "late": 2, "ok": 3}
_BY_HELPER = {"ok": "ok", "degraded": "late", "fail": "stale"}

_QUERY = """
SELECT p.id, p.name, p.server, p.max_age, p.grace,
       (SELECT max(r.finished_at) FROM backup_runs r
         WHERE r.policy_id = p.id AND r.status = 'succeeded') AS last_success_at,
       (SELECT array_agg(s.status ORDER BY s.started_at DESC, s.id DESC)
          FROM (SELECT r.status, r.started_at, r.id FROM backup_runs r
                 WHERE r.policy_id = p.id AND r.status <> 'running'
                 ORDER BY r.started_at DESC, r.id DESC LIMIT :n) s) AS recent,
       (SELECT row_to_json(l) FROM (
          SELECT r.id, r.status, r.started_at, r.finished_at, r.error FROM backup_runs r
           WHERE r.policy_id = p.id ORDER BY r.started_at DESC, r.id DESC LIMIT 1) l) AS last_run,
       now() AS now
  FROM backup_policies p
 ORDER BY p.name
"""


@dataclass(frozen=True)
class PolicyFreshness:
    """One policy's freshness state, failing flag and last success."""

    policy: str
    server: str
    state: str
    failing: bool
    last_success_at: datetime | None
    age: timedelta | None
    max_age: timedelta
    grace: timedelta
    last_run: dict[str, Any] | None

    @property
    def healthy(self) -> bool:
        """``ok`` and not failing."""
        return self.state == "ok" and not self.failing

    def sort_key(self) -> tuple[int, int, float]:
        """Worst first: by state, failing first, oldest success first."""
        age = self.age.total_seconds() if self.age is not None else float("inf")
        return (SEVERITY[self.state], 0 if self.failing else 1, -age)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (``backups status --json``, the health section's worst policies)."""
        return {
            "policy": self.policy,
            "server": self.server,
            "state": self.state,
            "failing": self.failing,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "age_s": round(self.age.total_seconds(), 3) if self.age is not None else None,
            "age": format_age(self.age) if self.age is not None else None,
            "max_age": go_duration(self.max_age),
            "grace": go_duration(self.grace),
            "last_run": self.last_run,
        }


def rate(
    last_success_at: datetime | None, max_age: timedelta, grace: timedelta, now: datetime
) -> str:
    """ok, late, stale or never: the host's freshness helper with warn = max age and fail =
    max age + grace."""
    if last_success_at is None:
        return "never"
    verdict = freshness(last_success_at, warn_after=max_age, fail_after=max_age + grace, now=now)
    return _BY_HELPER[verdict.status]


def policy_freshness(engine: Engine, failing_after: int) -> list[PolicyFreshness]:
    """Every policy's freshness, in one query, worst first."""
    with missing_tables(), engine.connect() as conn:
        rows = conn.execute(text(_QUERY), {"n": failing_after}).all()
    found = []
    for row in rows:
        now = row.now.astimezone(UTC)
        recent = row.recent or []
        last = row.last_success_at
        found.append(
            PolicyFreshness(
                policy=row.name,
                server=row.server,
                state=rate(last, row.max_age, row.grace, now),
                failing=len(recent) >= failing_after and all(s == "failed" for s in recent),
                last_success_at=last,
                age=max(now - last, timedelta(0)) if last is not None else None,
                max_age=row.max_age,
                grace=row.grace,
                last_run=row.last_run,
            )
        )
    return sorted(found, key=PolicyFreshness.sort_key)


def counts(found: list[PolicyFreshness]) -> dict[str, int]:
    """Policies per state, plus how many are failing."""
    tally = dict.fromkeys(STATES, 0)
    for item in found:
        tally[item.state] += 1
    tally["failing"] = sum(1 for item in found if item.failing)
    return tally
