"""The backups plugin's tasks, both on the queue ``backups``:

- ``backups.schedule``, every minute: fails the runs a dead worker left ``running``, then
  queues a ``backups.run`` job for every policy whose cron schedule (UTC) fired since the tick
  it last queued; a missed stretch (no worker for hours) queues one run, not one per tick, and
  no second job while the previous one still waits or runs (the queueing lock).
- ``backups.run(policy, trigger)``: one backup run. A run that fails is data (recorded,
  reported by ``backups status`` and health), not a job failure, so the job is not retried.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

import ocore_backups
from ocore_backups.backup import recover
from ocore_backups.errors import AlreadyRunning, PolicyNotFound
from ocore_backups.policies import next_run
from ocore_backups.schema import runs
from ocore_backups.service import BackupsService
from ocore_flask.tasks import Task

QUEUE = "backups"
EVERY_MINUTE = "* * * * *"


def due_tick(schedule: str, scheduled_for: datetime, now: datetime) -> datetime | None:
    """The latest tick of ``schedule`` in (``scheduled_for``, ``now``], or None."""
    from croniter import croniter

    first = next_run(schedule, scheduled_for)
    if first > now:
        return None
    previous = croniter(schedule, now).get_prev(datetime)
    exact = next_run(schedule, previous)
    latest = exact if exact <= now else previous
    return max(first, latest)


def recover_lost(service: BackupsService) -> list[int]:
    """Fail the ``running`` runs nobody runs (their policy's lock is free); their ids."""
    with service.engine.connect() as conn:
        policy_ids = set(
            conn.execute(select(runs.c.policy_id).where(runs.c.status == "running")).scalars()
        )
    lost: list[int] = []
    for policy in service.policies.list():
        if policy.id not in policy_ids:
            continue
        with service.runs.policy_lock(policy.id) as got:
            if got:
                lost += recover(service, policy)
    return lost


def queue_due(service: BackupsService, now: datetime) -> dict[str, list[Any]]:
    """Queue a run for every policy due at ``now``."""
    queued, pending = [], []
    for policy in service.policies.list():
        tick = due_tick(policy.schedule, policy.scheduled_for, now)
        if tick is None:
            continue
        job_id, deferred = service.enqueue(policy.name, "schedule", scheduled_for=tick)
        (queued if deferred else pending).append({"policy": policy.name, "job": job_id})
    return {"queued": queued, "already_pending": pending}


def schedule(timestamp: int | None = None) -> dict[str, Any]:
    """The periodic task: recover lost runs, queue the due ones (``timestamp``: the tick)."""
    service = ocore_backups.backups()
    now = datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)
    recovered = recover_lost(service)
    return {**queue_due(service, now), "recovered": recovered}


def run(policy: str, trigger: str = "schedule") -> dict[str, Any]:
    """One backup run of ``policy`` (skipped when another process is running it)."""
    service = ocore_backups.backups()
    try:
        done = service.run_job(policy, trigger)
    except AlreadyRunning as exc:
        return {"policy": policy, "skipped": str(exc)}
    except PolicyNotFound:
        return {"policy": policy, "skipped": "the policy was removed"}
    return {"policy": policy, "run": done.id, "status": done.status, "error": done.error}


def tasks() -> list[Task]:
    """The ``tasks`` hook (namespaced by the queue: ``backups.run``, ``backups.schedule``)."""
    return [
        Task("run", run, queue=QUEUE),
        Task("schedule", schedule, queue=QUEUE, schedule=EVERY_MINUTE),
    ]
