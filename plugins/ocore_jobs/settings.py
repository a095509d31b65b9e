"""The jobs plugin's settings: what a worker takes and how fast, heartbeats, retention, health."""

from __future__ import annotations

import re
from typing import Any

from ocore_flask.config import (
    Context,
    CrossRule,
    Duration,
    Kind,
    kinds,
    rules,
    section,
    setting,
    settings_of,
)

QUEUE_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
QUEUE_RULE = "1-128 characters: lowercase letters, digits and . _ -, starting alphanumeric"
#: the LISTEN connection a worker opens outside its pool (procrastinate's listener)
LISTEN_CONNECTIONS = 1


def _queues(raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        raise ValueError("must name at least one queue, e.g. default,mail (unset: every queue)")
    bad = next((name for name in names if not QUEUE_RE.fullmatch(name)), None)
    if bad is not None:
        raise ValueError(f"must be comma-separated queue names ({QUEUE_RULE}); not one: {bad!r}")
    return names


@section
class JobsSettings:
    """The jobs plugin's settings: worker concurrency and queues, heartbeats, retention, health."""

    concurrency: int = setting(
        "JOBS_CONCURRENCY",
        kinds.integer(1, 64),
        "Jobs one `ocore worker` runs at the same time (threads); `--concurrency` overrides it.",
        default="4",
        example="4",
    )

    queues: tuple[str, ...] | None = setting(
        "JOBS_QUEUES",
        Kind("queues", "comma-separated queue names", _queues, ",".join),
        "Queues a worker takes when started without `--queue` (unset: every queue).",
        example="default,ssh",
    )

    worker_pool_size: int = setting(
        "JOBS_WORKER_POOL_SIZE",
        kinds.integer(1, 32),
        "Connections in a worker's own pool (psycopg 3) for fetching and finishing jobs; it "
        "also opens one for LISTEN. Counted in the database connection budget.",
        default="2",
        example="2",
    )

    poll_interval: Duration = setting(
        "JOBS_POLL_INTERVAL",
        kinds.duration(),
        "A worker looks for jobs at least this often (LISTEN/NOTIFY wakes it at once anyway).",
        default="5s",
        example="5s",
        checks=(rules.duration_between("50ms", "5m"),),
    )

    heartbeat_interval: Duration = setting(
        "JOBS_HEARTBEAT_INTERVAL",
        kinds.duration(),
        "How often a worker records that it is alive (and looks for stalled jobs to recover).",
        default="10s",
        example="10s",
        checks=(rules.duration_between("100ms", "10m"),),
    )

    stall_threshold: Duration = setting(
        "JOBS_STALL_THRESHOLD",
        kinds.duration(),
        "A worker silent for this long is dead: its running jobs are retried by another worker.",
        default="30s",
        example="30s",
        checks=(rules.duration_between("500ms", "1h"),),
    )

    shutdown_timeout: Duration = setting(
        "JOBS_SHUTDOWN_TIMEOUT",
        kinds.duration(),
        "On SIGTERM a worker takes no new job and waits this long for running ones, then exits "
        "(jobs still running are recovered and retried, as after a crash).",
        default="30s",
        example="30s",
        checks=(rules.duration_between("1s", "1h"),),
    )

    retention: Duration = setting(
        "JOBS_RETENTION",
        kinds.duration(),
        "Succeeded jobs older than this are deleted (hourly task jobs.purge_succeeded); failed "
        "and cancelled jobs are kept for `ocore jobs show`.",
        default="168h",
        example="72h",
        checks=(rules.duration_between("1m", "87600h"),),
    )

    health_max_wait: Duration = setting(
        "JOBS_HEALTH_MAX_WAIT",
        kinds.duration(),
        "The job_queue health section is degraded while a job has waited longer than this.",
        default="5m",
        example="5m",
        checks=(rules.duration_between("1s", "168h"),),
    )


SETTINGS = settings_of(JobsSettings)


def _stall_after_heartbeats(ctx: Context) -> str | None:
    heartbeat, stall = ctx.values["JOBS_HEARTBEAT_INTERVAL"], ctx.values["JOBS_STALL_THRESHOLD"]
    if stall < 2 * heartbeat:
        return (
            f"must be at least twice JOBS_HEARTBEAT_INTERVAL ({heartbeat}), or a live worker "
            f"looks dead between two heartbeats; it is {stall}"
        )
    return None


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule(
        "JOBS_STALL_THRESHOLD",
        ("JOBS_HEARTBEAT_INTERVAL",),
        ">= 2 x JOBS_HEARTBEAT_INTERVAL",
        _stall_after_heartbeats,
    ),
)


def worker_connections(settings: JobsSettings) -> dict[str, int]:
    """The ``database_connections`` hook: what one ``ocore worker`` opens besides a web
    process's pool: its own pool, its LISTEN connection, and up to one shared-pool connection
    per running job (tasks use the app's engine)."""
    count = settings.worker_pool_size + LISTEN_CONNECTIONS + settings.concurrency
    return {
        f"one `ocore worker` (JOBS_WORKER_POOL_SIZE {settings.worker_pool_size} + LISTEN "
        f"{LISTEN_CONNECTIONS} + JOBS_CONCURRENCY {settings.concurrency})": count
    }


def describe(settings: JobsSettings) -> dict[str, Any]:
    """The worker options as JSON-able values (``ocore worker --json``, logs)."""
    return {
        "concurrency": settings.concurrency,
        "queues": list(settings.queues) if settings.queues else None,
        "worker_pool_size": settings.worker_pool_size,
        "poll_interval_s": settings.poll_interval.seconds,
        "heartbeat_interval_s": settings.heartbeat_interval.seconds,
        "stall_threshold_s": settings.stall_threshold.seconds,
        "shutdown_timeout_s": settings.shutdown_timeout.seconds,
    }
