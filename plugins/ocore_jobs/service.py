"""The jobs service (the plugin's per-app state): defer, inspect, retry and cancel jobs.

Deferring goes through procrastinate's SQLAlchemy psycopg2 connector on the database plugin's
shared engine: it opens no connection of its own, and ``defer(..., connection=conn)`` runs the
INSERT on the caller's connection, inside its transaction, so a row and its job commit (or roll
back) together; the worker is woken by NOTIFY at commit. procrastinate is imported on first
use, not at startup. Reads (list, show, status) are plain SQL on the same engine.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

import ocore_database
import ocore_jobs
from ocore_flask.errors import PluginError
from ocore_flask.redact import Scrubber
from ocore_flask.state import get_state
from ocore_jobs import queries
from ocore_jobs.errors import (
    JobNotFound,
    JobsError,
    JobsNotMigrated,
    JobStateError,
    TaskProblems,
)
from ocore_jobs.registry import Registry, collect
from ocore_jobs.schema import MAX_REASON
from ocore_jobs.settings import JobsSettings

if TYPE_CHECKING:
    import procrastinate
    from procrastinate.jobs import Job

log = logging.getLogger("ocore_jobs")
#: procrastinate's INFO lines that are noise in a web process ("Deferred 1 job" per defer,
#: task registration); the worker turns the periodic deferrer's back on
QUIET_LOGGERS = ("procrastinate.blueprints", "procrastinate.jobs", "procrastinate.periodic")


def init_app(app: Flask, settings: JobsSettings) -> JobsService:
    """Collect and check every plugin's tasks (a problem stops startup, naming the task); no
    connection is opened and procrastinate is not imported yet."""
    state = get_state(app)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        registry = collect(state.plugins)
    except TaskProblems as exc:
        raise PluginError(f"ocore: plugin jobs: tasks cannot be registered: {exc}") from None
    return JobsService(app, settings, registry, ocore_database.engine(app))


def close(app: Flask) -> None:
    """Release the procrastinate app (the shared engine stays the database plugin's)."""
    ocore_jobs.jobs(app).close()


_MISSING = ("42P01", "42704", "42883")  # undefined table, object (type), function


@contextmanager
def _translate() -> Iterator[None]:
    """Missing tables become JobsNotMigrated; procrastinate's wrapped database errors become
    JobsError with the driver's first line; anything else passes through."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) in _MISSING:
            raise JobsNotMigrated() from None
        raise
    except Exception as exc:
        loaded = sys.modules.get("procrastinate.exceptions")  # raised by it: it is loaded
        if loaded is None or not isinstance(exc, loaded.ConnectorException):
            raise
        cause = exc.__cause__
        if getattr(getattr(cause, "orig", None), "pgcode", None) in _MISSING:
            raise JobsNotMigrated() from None
        raise JobsError(f"database error: {failure_reason(cause or exc)}") from None


def failure_reason(exc: BaseException, scrubber: Scrubber | None = None) -> str:
    """``Type: message`` on one line (a driver error: its first line), scrubbed of
    credential-shaped text and of ``scrubber``'s secrets."""
    scrubber = scrubber or Scrubber()
    inner = getattr(exc, "orig", None) or exc
    message = str(inner).strip()
    if isinstance(exc, sa_exc.SQLAlchemyError):
        message = message.splitlines()[0] if message else ""
    text = f"{type(inner).__name__}: {message}" if message else type(inner).__name__
    return scrubber.text(" ".join(scrubber.text(text).split()))


class JobsService:
    """Defer jobs to the plugins' tasks and inspect the queue, over the shared engine."""

    def __init__(
        self, app: Flask, settings: JobsSettings, registry: Registry, engine: Engine
    ) -> None:
        """Keep what deferring and reading need; procrastinate is built on first use."""
        self.app = app
        self.settings = settings
        self.registry = registry
        self.engine = engine
        self._scrubber = Scrubber(get_state(app).config.secret_values())
        self._lock = threading.Lock()
        self._procrastinate: procrastinate.App | None = None

    def __repr__(self) -> str:
        return f"<JobsService {len(self.registry)} tasks>"

    # -- deferring ---------------------------------------------------------------------------

    @property
    def procrastinate(self) -> procrastinate.App:
        """The web side's procrastinate App: SQLAlchemy connector on the shared engine."""
        with self._lock:
            if self._procrastinate is None:
                from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector

                from ocore_jobs.runtime import build_app

                papp = build_app(
                    self.app, self.registry, SQLAlchemyPsycopg2Connector(), self.record_failure
                )
                self._procrastinate = papp.open(self.engine)
            return self._procrastinate

    def defer(
        self,
        task: str,
        args: Mapping[str, Any] | None = None,
        *,
        connection: Connection | None = None,
        delay: float | None = None,
    ) -> int:
        """Queue a job of ``task`` (``plugin.name``) with ``args`` and return its id.

        ``connection``: a SQLAlchemy connection of the shared engine; the job joins its
        transaction (commits with it, vanishes on rollback). ``delay``: seconds to wait
        before the job may start. Raises UnknownTask, BadArguments, JobsNotMigrated.
        """
        spec = self.registry.get_task(task)
        stored = spec.check_args(args or {}, self._scrubber)
        options: dict[str, Any] = {"allow_unknown": False}
        if connection is not None:
            options["connection"] = connection
        if delay is not None:
            options["schedule_in"] = {"seconds": max(0.0, float(delay))}
        with _translate():
            return self.procrastinate.configure_task(spec.name, **options).defer(**stored)

    # -- reading -----------------------------------------------------------------------------

    def job(self, job_id: int) -> queries.JobInfo:
        """Job ``job_id`` (arguments scrubbed), or JobNotFound."""
        with _translate(), self.engine.connect() as conn:
            found = queries.get_job(conn, job_id, self._scrubber.scrub)
        if found is None:
            raise JobNotFound(job_id)
        return found

    def jobs(
        self, *, status: str | None = None, queue: str | None = None, limit: int = 50
    ) -> list[queries.JobInfo]:
        """The newest jobs, optionally of one status and queue."""
        with _translate(), self.engine.connect() as conn:
            return queries.list_jobs(
                conn, self._scrubber.scrub, status=status, queue=queue, limit=limit
            )

    def status(self, *, statement_timeout_ms: int | None = None) -> queries.QueueStatus:
        """The queue's counts, oldest waiting job, live workers and recent failures."""
        with _translate(), self.engine.begin() as conn:
            if statement_timeout_ms is not None:
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
            return queries.queue_status(conn, self.settings.stall_threshold.seconds)

    # -- changing ----------------------------------------------------------------------------

    def retry(self, job_id: int) -> queries.JobInfo:
        """Run a failed job again now (its attempts count goes on); JobStateError otherwise."""
        job = self.job(job_id)
        if job.status != "failed":
            again = " (defer it again instead)" if job.status in ("cancelled", "aborted") else ""
            raise JobStateError(
                f"job {job_id} is {job.status}: only a failed job can be retried" + again
            )
        with _translate():
            manager = self.procrastinate.job_manager
            manager.retry_job_by_id(job_id, retry_at=datetime.now(UTC))
        return self.job(job_id)

    def cancel(self, job_id: int) -> queries.JobInfo:
        """Cancel a job that has not started; JobStateError for any other state."""
        self.job(job_id)
        with _translate():
            cancelled = self.procrastinate.job_manager.cancel_job_by_id(job_id)
        job = self.job(job_id)
        if not cancelled:
            raise JobStateError(
                f"job {job_id} is {job.status}: only a waiting job (todo) can be cancelled"
            )
        return job

    def purge_succeeded(self, older_than: float | None = None) -> int:
        """Delete succeeded jobs finished more than ``older_than`` seconds ago (default
        JOBS_RETENTION); returns how many."""
        age = self.settings.retention.seconds if older_than is None else older_than
        with _translate(), self.engine.begin() as conn:
            return queries.purge_succeeded(conn, age)

    def record_failure(self, job: Job, exc: BaseException) -> None:
        """Store why an attempt failed: one line, scrubbed of configured secrets and
        credential-shaped text, at most MAX_REASON characters."""
        reason = failure_reason(exc, self._scrubber)[:MAX_REASON]
        assert job.id is not None
        with self.engine.begin() as conn:
            queries.record_failure(conn, job.id, job.task_name, job.queue, reason)

    def close(self) -> None:
        """Drop the procrastinate app; the engine belongs to the database plugin."""
        with self._lock:
            if self._procrastinate is not None:
                self._procrastinate.close()
                self._procrastinate = None
