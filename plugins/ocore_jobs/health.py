"""The ``job_queue`` health section (not critical: a stuck queue must not take the service out
of a load balancer). Two statements: counts by queue and status with the oldest due job, then
live workers (heartbeat within JOBS_STALL_THRESHOLD) and failed attempts in the last hour.

``degraded`` when a job has waited longer than JOBS_HEALTH_MAX_WAIT, or when jobs wait and no
worker is alive; ``ok`` on an idle queue, with or without workers.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

import ocore_jobs
from ocore_flask.health import CheckResult, HealthContributor, degraded, fail, freshness, ok
from ocore_flask.health.freshness import format_age
from ocore_jobs.errors import JobsError, JobsNotMigrated
from ocore_jobs.queries import QueueStatus

SECTION = "job_queue"
TIMEOUT = 2.0
#: the statements' own bound, inside the section's timeout
STATEMENT_TIMEOUT_MS = 1500
#: waiting never fails the section on its own: degraded is as far as a queue goes
NEVER = timedelta(days=36500)


def judge(status: QueueStatus, max_wait: timedelta) -> CheckResult:
    """The section from a queue status: degraded on a long wait or no worker for waiting jobs."""
    data = {**status.to_dict(), "max_wait_s": max_wait.total_seconds()}
    waiting = status.total.waiting
    if waiting and status.workers_alive == 0:
        return degraded(
            f"{waiting} job(s) waiting and no worker alive: start `ocore worker`", data=data
        )
    since = status.total.waiting_since
    if since is not None:
        age = freshness(since, warn_after=max_wait, fail_after=max(max_wait, NEVER), now=status.now)
        if age.status != "ok":
            waited = format_age(timedelta(seconds=age.data["age_s"]))
            return degraded(
                f"the oldest waiting job has waited {waited}, longer than JOBS_HEALTH_MAX_WAIT "
                f"({format_age(max_wait)})",
                data=data,
            )
    return ok(data)


def check_job_queue() -> CheckResult:
    """Read the queue (bounded by a statement timeout) and judge it."""
    service = ocore_jobs.jobs()
    max_wait = timedelta(seconds=service.settings.health_max_wait.seconds)
    try:
        status = service.status(statement_timeout_ms=STATEMENT_TIMEOUT_MS)
    except JobsNotMigrated:
        return degraded("job queue tables missing: run `ocore db upgrade`")
    except (SQLAlchemyError, JobsError) as exc:
        return fail(f"cannot read the job queue: {type(exc).__name__}")
    return judge(status, max_wait)


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_job_queue,
    critical=False,
    timeout=TIMEOUT,
    description="Job queue: jobs by status and queue, oldest waiting job, live workers, "
    "failures in the last hour.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
