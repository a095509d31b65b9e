"""``ocore worker``'s engine: a procrastinate worker with its own small psycopg 3 pool.

- Jobs run in threads (``concurrency`` at a time) inside the app's context.
- LISTEN/NOTIFY wakes the worker when a job is deferred; it also polls every
  JOBS_POLL_INTERVAL in case a notification was missed.
- Heartbeats every JOBS_HEARTBEAT_INTERVAL; on the same beat the worker looks for workers
  silent for JOBS_STALL_THRESHOLD (killed, frozen) and retries the jobs they were running.
  A job whose worker keeps dying is failed after its retries plus STALL_RETRIES.
- SIGTERM (or SIGINT) stops taking jobs and waits up to JOBS_SHUTDOWN_TIMEOUT for the running
  ones, then exits 0; a job still running then (a thread cannot be interrupted) is left to
  the stalled-job recovery of the next worker. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import procrastinate
import psycopg
from flask import Flask
from procrastinate import exceptions as pexc
from procrastinate.jobs import Job, Status
from procrastinate.worker import Worker

import ocore_database
import ocore_jobs
from ocore_jobs.errors import JobsError
from ocore_jobs.registry import Registry
from ocore_jobs.runtime import build_app
from ocore_jobs.service import JobsService, failure_reason
from ocore_jobs.settings import JobsSettings

log = logging.getLogger("ocore_jobs")

#: times a job may lose its worker beyond its own retry attempts before it is failed
STALL_RETRIES = 2
#: seconds beyond JOBS_SHUTDOWN_TIMEOUT before the process exits whatever still runs
FORCE_MARGIN = 2.0
READY = "ocore worker: ready"


class WorkerLost(Exception):
    """What is recorded for a job whose worker stopped sending heartbeats."""


@dataclass
class WorkerReport:
    """What one worker run did (``ocore worker --json`` prints it when it stops)."""

    name: str
    queues: list[str] | None
    concurrency: int
    worker_id: int | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    recovered: list[int] = field(default_factory=list)
    stopped_by: str | None = None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "name": self.name,
            "worker_id": self.worker_id,
            "queues": self.queues,
            "concurrency": self.concurrency,
            "jobs": {"succeeded": self.outcomes["succeeded"], "failed": self.outcomes["failed"]},
            "recovered": self.recovered,
            "stopped_by": self.stopped_by,
        }


def ready_message(report: WorkerReport) -> str:
    """The line ``ocore worker`` prints on stderr once it takes jobs (test kits wait for it)."""
    where = ", ".join(report.queues) if report.queues else "every queue"
    return (
        f"{READY} (worker {report.worker_id}, {where}, concurrency {report.concurrency}); "
        "SIGTERM or Ctrl-C stops it"
    )


def connector(app: Flask, settings: JobsSettings) -> procrastinate.PsycopgConnector:
    """The worker's own pool (psycopg 3): JOBS_WORKER_POOL_SIZE connections to DATABASE_URL,
    under the shared pool's application_name (the connection budget counts them already)."""
    db = ocore_database.db(app)
    kwargs: dict[str, Any] = {"connect_timeout": max(2, round(db.options.connect_timeout))}
    if "application_name=" not in db.url.raw:
        kwargs["application_name"] = db.application_name
    return procrastinate.PsycopgConnector(
        conninfo=db.url.raw,
        min_size=1,
        max_size=settings.worker_pool_size,
        kwargs=kwargs,
        name="ocore-jobs-worker",
    )


def run_worker(
    app: Flask,
    *,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    name: str | None = None,
    on_ready: Callable[[WorkerReport], None] | None = None,
) -> WorkerReport:
    """Run a worker in this process until SIGTERM/SIGINT; ``queues`` and ``concurrency``
    default to JOBS_QUEUES and JOBS_CONCURRENCY. Must run in the main thread (signals)."""
    service = ocore_jobs.jobs(app)
    settings = service.settings
    chosen = list(queues or settings.queues or []) or None
    report = WorkerReport(
        name=name or f"ocore-worker-{os.getpid()}",
        queues=chosen,
        concurrency=concurrency or settings.concurrency,
    )
    lock = threading.Lock()

    def count(outcome: str) -> None:
        with lock:
            report.outcomes[outcome] += 1

    papp = build_app(app, service.registry, connector(app, settings), service.record_failure, count)
    logging.getLogger("procrastinate.periodic").setLevel(logging.NOTSET)  # deferred ticks
    try:
        asyncio.run(_main(papp, service, report, on_ready))
    except (pexc.ConnectorException, psycopg.Error, OSError) as exc:
        reason = failure_reason(exc.__cause__ or exc)
        raise JobsError(f"the worker lost its database: {reason}") from None
    if report.stopped_by is None:  # procrastinate stops a worker whose side task failed
        raise JobsError("the worker stopped on its own: a background task failed (see the log)")
    return report


async def _main(
    papp: procrastinate.App,
    service: JobsService,
    report: WorkerReport,
    on_ready: Callable[[WorkerReport], None] | None,
) -> None:
    settings = service.settings
    loop = asyncio.get_running_loop()
    loop.set_default_executor(
        ThreadPoolExecutor(report.concurrency + 2, thread_name_prefix="ocore-job")
    )
    worker = Worker(
        app=papp,
        queues=report.queues,
        name=report.name,
        concurrency=report.concurrency,
        fetch_job_polling_interval=settings.poll_interval.seconds,
        abort_job_polling_interval=settings.poll_interval.seconds,
        shutdown_graceful_timeout=settings.shutdown_timeout.seconds,
        listen_notify=True,
        install_signal_handlers=False,
        update_heartbeat_interval=settings.heartbeat_interval.seconds,
        stalled_worker_timeout=settings.stall_threshold.seconds,
    )
    stopping = asyncio.Event()
    _install_stop(loop, worker, report, settings, stopping)
    async with papp.open_async():
        run = asyncio.create_task(worker.run(), name="ocore worker")
        side = [
            asyncio.create_task(_announce(worker, report, on_ready), name="ready"),
            asyncio.create_task(
                _recover_loop(papp, service, report, stopping), name="recover stalled"
            ),
            asyncio.create_task(
                _beat_while_stopping(papp, worker, settings, stopping), name="last heartbeats"
            ),
        ]
        try:
            await run
        finally:
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)


def _install_stop(
    loop: asyncio.AbstractEventLoop,
    worker: Worker,
    report: WorkerReport,
    settings: JobsSettings,
    stopping: asyncio.Event,
) -> None:
    """First SIGTERM/SIGINT: graceful stop, bounded; a second one, or the bound: exit now."""

    def force(reason: str) -> None:
        done = report.outcomes["succeeded"] + report.outcomes["failed"]
        running = report.outcomes["started"] - done
        log.warning(
            "jobs: worker %s exits with %d job(s) still running (%s); another worker retries "
            "them once this one's heartbeat is older than JOBS_STALL_THRESHOLD",
            report.name,
            running,
            reason,
        )
        report.forced = True
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)

    def on_signal(signum: int) -> None:
        if report.stopped_by is not None:
            force("second signal")
        report.stopped_by = signal.Signals(signum).name
        log.info(
            "jobs: worker %s stopping (%s): no new jobs; waiting up to %s for running ones",
            report.name,
            report.stopped_by,
            settings.shutdown_timeout,
        )
        stopping.set()
        worker.stop()
        loop.call_later(
            settings.shutdown_timeout.seconds + FORCE_MARGIN,
            force,
            f"JOBS_SHUTDOWN_TIMEOUT {settings.shutdown_timeout} passed",
        )

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


async def _announce(
    worker: Worker, report: WorkerReport, on_ready: Callable[[WorkerReport], None] | None
) -> None:
    while worker.worker_id is None:
        await asyncio.sleep(0.02)
    report.worker_id = worker.worker_id
    log.info(
        "jobs: worker %s (id %s) ready on %s, concurrency %d",
        report.name,
        report.worker_id,
        ", ".join(report.queues) if report.queues else "every queue",
        report.concurrency,
    )
    if on_ready is not None:
        on_ready(report)


async def _beat_while_stopping(
    papp: procrastinate.App, worker: Worker, settings: JobsSettings, stopping: asyncio.Event
) -> None:
    """procrastinate stops heartbeats as soon as a stop begins; keep them going while running
    jobs finish, or other workers would take this one for dead and run its jobs twice."""
    await stopping.wait()
    while worker.worker_id is not None:
        try:
            await papp.job_manager.update_heartbeat(worker.worker_id)
        except Exception:
            log.warning("jobs: could not record a heartbeat while stopping", exc_info=True)
        await asyncio.sleep(settings.heartbeat_interval.seconds)


async def _recover_loop(
    papp: procrastinate.App, service: JobsService, report: WorkerReport, stopping: asyncio.Event
) -> None:
    """On every heartbeat: forget silent workers and retry (or fail) the jobs they held;
    not once this worker is stopping (another one will)."""
    settings = service.settings
    stall = settings.stall_threshold.seconds
    while not stopping.is_set():
        try:
            await papp.job_manager.prune_stalled_workers(stall)
            for job in await papp.job_manager.get_stalled_jobs(seconds_since_heartbeat=stall):
                if await _recover(papp, service, job):
                    report.recovered.append(job.id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("jobs: looking for stalled jobs failed; trying again on the next beat")
        await asyncio.sleep(settings.heartbeat_interval.seconds)


async def _recover(papp: procrastinate.App, service: JobsService, job: Job) -> bool:
    """Retry one job of a dead worker (or fail it when it keeps losing its worker)."""
    registry: Registry = service.registry
    spec = registry.get(job.task_name)
    allowed = (spec.retry.attempts if spec else 0) + STALL_RETRIES
    stall = service.settings.stall_threshold
    assert job.id is not None
    try:
        if job.attempts >= allowed:
            await papp.job_manager.finish_job_by_id_async(job.id, Status.FAILED, False)
            what = f"its worker stopped sending heartbeats ({stall}) {job.attempts + 1} times"
        else:
            await papp.job_manager.retry_job_by_id_async(job.id, retry_at=datetime.now(UTC))
            what = f"its worker stopped sending heartbeats for {stall}; retried"
    except pexc.ConnectorException:
        return False  # another worker recovered it first
    log.warning("jobs: job %s (%s): %s", job.id, job.task_name, what)
    await asyncio.to_thread(service.record_failure, job, WorkerLost(what))
    return True
