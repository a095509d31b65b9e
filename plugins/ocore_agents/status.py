"""An agent's status from its last push and ``AGENT_PUSH_INTERVAL``: ``online`` within 3
intervals, ``stale`` up to 10, ``offline`` beyond, ``never`` before its first push (and
``revoked`` once revoked). The health query applies the same thresholds in SQL."""

from __future__ import annotations

from datetime import datetime, timedelta

ONLINE_INTERVALS = 3
STALE_INTERVALS = 10
STATUSES = ("online", "stale", "offline", "never", "revoked")
#: worst first: how lists and health order agents that need attention
SEVERITY = {"offline": 0, "stale": 1, "never": 2, "online": 3, "revoked": 4}


def thresholds(interval: timedelta) -> tuple[timedelta, timedelta]:
    """The largest ages still ``online`` and still ``stale``."""
    return interval * ONLINE_INTERVALS, interval * STALE_INTERVALS


def status_of(
    last_seen: datetime | None, now: datetime, interval: timedelta, *, revoked: bool = False
) -> str:
    """``online``, ``stale``, ``offline``, ``never`` or ``revoked``."""
    if revoked:
        return "revoked"
    if last_seen is None:
        return "never"
    online, stale = thresholds(interval)
    age = now - last_seen
    if age <= online:
        return "online"
    if age <= stale:
        return "stale"
    return "offline"
