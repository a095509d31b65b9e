"""The jobs plugin's own task: the hourly retention purge of succeeded jobs."""

from __future__ import annotations

from typing import Any

import ocore_jobs
from ocore_flask.config import DurationError, parse_duration
from ocore_flask.tasks import Task
from ocore_jobs.errors import BadArguments

#: minute 17 of every hour: away from the top of the hour, where cron jobs crowd
PURGE_SCHEDULE = "17 * * * *"


def purge_succeeded(older_than: str | None = None) -> dict[str, Any]:
    """Delete succeeded jobs finished longer ago than ``older_than`` (a Go duration, e.g.
    "24h"; default JOBS_RETENTION)."""
    seconds = None
    if older_than is not None:
        try:
            seconds = parse_duration(older_than).seconds
        except DurationError as exc:
            raise BadArguments(f"older_than: {exc}") from None
        if seconds < 0:
            raise BadArguments("older_than must not be negative")
    deleted = ocore_jobs.jobs().purge_succeeded(seconds)
    return {"deleted": deleted}


def tasks() -> list[Task]:
    """The ``tasks`` hook."""
    return [Task("purge_succeeded", purge_succeeded, schedule=PURGE_SCHEDULE)]
