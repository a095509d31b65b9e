"""Reading the queue over the shared engine: jobs with their timeline and last error, the queue
status (two statements), failure records and retention. procrastinate's tables are read
directly: the schema is the one the plugin's migration applied (pinned procrastinate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from ocore_flask.health.contributor import isoformat_utc

#: procrastinate's status names, in the order a job moves through them ("aborting" is legacy)
STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
FINISHED = ("succeeded", "failed", "cancelled", "aborted")

_JOB_COLUMNS = """
SELECT j.id, j.task_name, j.queue_name, j.status::text AS status, j.priority, j.attempts,
       j.args, j.scheduled_at, j.worker_id, j.abort_requested,
       ev.deferred_at, ev.started_at, ev.finished_at,
       err.reason AS last_error, err.failed_at AS last_error_at
  FROM procrastinate_jobs j
  LEFT JOIN LATERAL (
        SELECT min(e.at) FILTER (WHERE e.type = 'deferred') AS deferred_at,
               max(e.at) FILTER (WHERE e.type = 'started') AS started_at,
               max(e.at) FILTER (
                   WHERE e.type IN ('succeeded', 'failed', 'cancelled', 'aborted')
               ) AS finished_at
          FROM procrastinate_events e WHERE e.job_id = j.id) ev ON true
  LEFT JOIN LATERAL (
        SELECT x.reason, x.failed_at FROM jobs_errors x WHERE x.job_id = j.id
         ORDER BY x.id DESC LIMIT 1) err ON true
"""

_COUNTS = """
WITH counts AS (
    SELECT queue_name, status::text AS status, count(*) AS n
      FROM procrastinate_jobs GROUP BY 1, 2
), waiting AS (
    SELECT j.queue_name, count(*) AS due, min(GREATEST(j.scheduled_at, e.at)) AS since
      FROM procrastinate_jobs j
      JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
     WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
     GROUP BY 1
)
SELECT c.queue_name, c.status, c.n, w.due, w.since
  FROM counts c LEFT JOIN waiting w ON w.queue_name = c.queue_name AND c.status = 'todo'
"""

_WORKERS_AND_FAILURES = """
SELECT now() AS now,
       (SELECT count(*) FROM procrastinate_workers
         WHERE last_heartbeat > now() - make_interval(secs => :stall)) AS workers,
       (SELECT coalesce(json_object_agg(f.queue_name, f.n), '{}'::json)
          FROM (SELECT queue_name, count(*) AS n FROM jobs_errors
                 WHERE failed_at > now() - interval '1 hour' GROUP BY 1) f) AS failures
"""


def _iso(moment: datetime | None) -> str | None:
    return isoformat_utc(moment) if moment is not None else None


@dataclass(frozen=True)
class JobInfo:
    """One job as ``jobs show`` and ``jobs list`` report it (``args`` already scrubbed)."""

    id: int
    task: str
    queue: str
    status: str
    priority: int
    attempts: int
    args: dict[str, Any]
    scheduled_at: datetime | None
    deferred_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: int | None
    abort_requested: bool
    last_error: str | None
    last_error_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; ``status`` uses procrastinate's names (todo, doing, succeeded...)."""
        return {
            "id": self.id,
            "task": self.task,
            "queue": self.queue,
            "status": self.status,
            "priority": self.priority,
            "attempts": self.attempts,
            "args": self.args,
            "scheduled_at": _iso(self.scheduled_at),
            "deferred_at": _iso(self.deferred_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "worker_id": self.worker_id,
            "abort_requested": self.abort_requested,
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
        }


def _job(row: Any, scrub: Any) -> JobInfo:
    return JobInfo(
        id=row.id,
        task=row.task_name,
        queue=row.queue_name,
        status=row.status,
        priority=row.priority,
        attempts=row.attempts,
        args=scrub(dict(row.args or {})),
        scheduled_at=row.scheduled_at,
        deferred_at=row.deferred_at,
        started_at=row.started_at,
        finished_at=row.finished_at if row.status in FINISHED else None,
        worker_id=row.worker_id,
        abort_requested=row.abort_requested,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
    )


def get_job(conn: Connection, job_id: int, scrub: Any) -> JobInfo | None:
    """Job ``job_id`` with its timeline and last error, or None."""
    row = conn.execute(text(_JOB_COLUMNS + " WHERE j.id = :id"), {"id": job_id}).first()
    return _job(row, scrub) if row is not None else None


def list_jobs(
    conn: Connection, scrub: Any, *, status: str | None, queue: str | None, limit: int
) -> list[JobInfo]:
    """The newest ``limit`` jobs, optionally of one status and one queue."""
    where, params = [], {"limit": limit}
    if status is not None:
        where.append("j.status = CAST(:status AS procrastinate_job_status)")
        params["status"] = status
    if queue is not None:
        where.append("j.queue_name = :queue")
        params["queue"] = queue
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(text(_JOB_COLUMNS + clause + " ORDER BY j.id DESC LIMIT :limit"), params)
    return [_job(row, scrub) for row in rows]


@dataclass
class QueueCounts:
    """One queue (or all of them): jobs by status, due jobs waiting and since when, failures."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    waiting: int = 0
    waiting_since: datetime | None = None
    failures_last_hour: int = 0

    def add(self, status: str, n: int, due: int | None, since: datetime | None) -> None:
        """Fold one (status, count) row in."""
        if status in self.counts:
            self.counts[status] += n
        self.waiting += due or 0
        if since is not None and (self.waiting_since is None or since < self.waiting_since):
            self.waiting_since = since

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """JSON-able, with the oldest waiting job's age in seconds."""
        age = (now - self.waiting_since).total_seconds() if self.waiting_since else None
        return {
            "counts": dict(self.counts),
            "waiting": self.waiting,
            "oldest_waiting_s": round(max(age, 0.0), 3) if age is not None else None,
            "failures_last_hour": self.failures_last_hour,
        }


@dataclass
class QueueStatus:
    """The whole queue: totals, per queue, live workers, the database's clock."""

    now: datetime
    total: QueueCounts
    queues: dict[str, QueueCounts]
    workers_alive: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (health data, ``jobs status --json``)."""
        return {
            **self.total.to_dict(self.now),
            "workers_alive": self.workers_alive,
            "queues": {name: q.to_dict(self.now) for name, q in sorted(self.queues.items())},
        }


def queue_status(conn: Connection, stall_seconds: float) -> QueueStatus:
    """Counts by queue and status, the oldest due job, live workers (heartbeat within the stall
    threshold), failures in the last hour: two statements."""
    total, queues = QueueCounts(), {}
    for row in conn.execute(text(_COUNTS)):
        queues.setdefault(row.queue_name, QueueCounts()).add(row.status, row.n, row.due, row.since)
        total.add(row.status, row.n, row.due, row.since)
    row = conn.execute(text(_WORKERS_AND_FAILURES), {"stall": stall_seconds}).one()
    for name, n in (row.failures or {}).items():
        queues.setdefault(name, QueueCounts()).failures_last_hour = n
        total.failures_last_hour += n
    return QueueStatus(row.now, total, queues, row.workers)


def record_failure(conn: Connection, job_id: int, task: str, queue: str, reason: str) -> None:
    """Store one failed run's reason (already one scrubbed line); its attempt number is the
    count of the job's starts (procrastinate's own counter also moves on a manual retry)."""
    conn.execute(
        text(
            "INSERT INTO jobs_errors (job_id, attempt, task_name, queue_name, reason) "
            "SELECT :job_id, greatest(count(*), 1), :task, :queue, :reason "
            "FROM procrastinate_events WHERE job_id = :job_id AND type = 'started'"
        ),
        {"job_id": job_id, "task": task, "queue": queue, "reason": reason},
    )


def purge_succeeded(conn: Connection, older_than_seconds: float) -> int:
    """Delete succeeded jobs that finished more than ``older_than_seconds`` ago."""
    result = conn.execute(
        text(
            "DELETE FROM procrastinate_jobs WHERE status = 'succeeded' AND id IN ("
            " SELECT job_id FROM procrastinate_events WHERE type = 'succeeded'"
            " AND at < now() - make_interval(secs => :age))"
        ),
        {"age": older_than_seconds},
    )
    return result.rowcount
