"""The backups service (the plugin's per-app state): policies, runs, the destination.

Runs are jobs (``backups.run`` on the queue ``backups``); ``enqueue`` is the queueing lock:
a policy's job is deferred inside a transaction holding its row lock, and not at all while
the job queued before is still waiting or running (``pending_job_id``). The run itself takes
the policy's PostgreSQL advisory lock, so two workers never run one policy at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine

import ocore_database
import ocore_jobs
import ocore_ssh
from ocore_backups import backup
from ocore_backups import restore as restoring
from ocore_backups.destination import Destination, DirectoryDestination
from ocore_backups.errors import InvalidPolicy, NoDestination
from ocore_backups.freshness import PolicyFreshness, policy_freshness
from ocore_backups.policies import Policy, PolicyStore
from ocore_backups.retention import prune
from ocore_backups.runs import Run, RunStore
from ocore_backups.schema import MAX_LINE
from ocore_backups.settings import DEVELOPMENT_FOLDER, BackupsSettings
from ocore_flask.redact import Scrubber
from ocore_flask.state import get_state

log = logging.getLogger("ocore_backups")
RUN_TASK = "backups.run"
#: job statuses during which a queued run still holds the policy's queueing lock
PENDING = ("todo", "doing")


def init_app(app: Flask, settings: BackupsSettings) -> BackupsService:
    """The app's backups service; BACKUP_DIR defaults to ``<instance>/backups`` in
    development (nothing is created before the first backup)."""
    state = get_state(app)
    folder = settings.backup_dir
    if folder is None and not state.config.mode.strict:
        folder = str(Path(app.instance_path) / DEVELOPMENT_FOLDER)
    destination = DirectoryDestination(folder) if folder else None
    return BackupsService(app, settings, ocore_database.engine(app), destination)


class BackupsService:
    """Backup policies and runs over the shared engine, stored in one destination."""

    def __init__(
        self,
        app: Flask,
        settings: BackupsSettings,
        engine: Engine,
        destination: Destination | None,
    ) -> None:
        """Keep what runs need; ``destination`` None: BACKUP_DIR unset in a strict mode."""
        self.app = app
        self.settings = settings
        self.engine = engine
        self.destination = destination
        self.policies = PolicyStore(engine)
        self.runs = RunStore(engine)
        self.scrubber = Scrubber(get_state(app).config.secret_values())

    def __repr__(self) -> str:
        where = self.destination.describe() if self.destination else "no BACKUP_DIR"
        return f"<BackupsService {where}>"

    def line(self, text: str | None) -> str | None:
        """One line, scrubbed of configured secrets and credential shapes, at most MAX_LINE."""
        if not text:
            return text
        return self.scrubber.text(" ".join(self.scrubber.text(text).split()))[:MAX_LINE]

    # -- policies ------------------------------------------------------------------------------

    def add_policy(self, name: str, *, server: str, **options: Any) -> Policy:
        """Check and store a policy: the server must exist and, outside development,
        BACKUP_DIR must be set. ``options``: see ``PolicyStore.add``."""
        if self.destination is None:
            raise NoDestination()
        try:
            ocore_ssh.ssh(self.app).servers.get(server)
        except ocore_ssh.SSHError as exc:
            raise InvalidPolicy(str(exc)) from None
        return self.policies.add(name, server=server, **options)

    def remove_policy(self, name: str, *, delete_files: bool = False) -> list[str]:
        """Delete a policy and its run history; its stored files stay unless
        ``delete_files``. Returns the keys of the files that remain stored."""
        policy = self.policies.get(name)
        stored = [run.path for run in self.runs.stored(policy.id) if run.path]
        if delete_files and self.destination is not None:
            for key in stored:
                self.destination.delete(key)
            stored = []
        self.policies.remove(name)
        return stored

    # -- runs ----------------------------------------------------------------------------------

    def enqueue(self, name: str, trigger: str = "manual", **policy_values: Any) -> tuple[int, bool]:
        """Defer a run of policy ``name`` unless one is already queued or running: (job id,
        whether it was deferred now). ``policy_values`` are stored on the policy too."""
        jobs = ocore_jobs.jobs(self.app)
        with self.engine.begin() as conn:
            policy = self.policies.lock(conn, name)
            pending = policy.pending_job_id
            if pending is not None and self._job_pending(pending):
                if policy_values:
                    self.policies.set_pending(conn, policy.id, pending, **policy_values)
                return pending, False
            job_id = jobs.defer(RUN_TASK, {"policy": name, "trigger": trigger}, connection=conn)
            self.policies.set_pending(conn, policy.id, job_id, **policy_values)
        return job_id, True

    def _job_pending(self, job_id: int) -> bool:
        try:
            return ocore_jobs.jobs(self.app).job(job_id).status in PENDING
        except ocore_jobs.JobNotFound:
            return False

    def run(
        self,
        name: str,
        *,
        trigger: str = "manual",
        job_id: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Run:
        """Run one backup of policy ``name`` in this process (the ``backups.run`` task, or
        ``backups run --wait`` without a worker); AlreadyRunning if another process is."""
        policy = self.policies.get(name)
        return backup.run_policy(
            self, policy, trigger=trigger, job_id=job_id, on_progress=on_progress
        )

    def run_job(self, name: str, trigger: str) -> Run:
        """The ``backups.run`` task's body: run the policy, linking the run to the queued job
        (the policy's ``pending_job_id``) and releasing that queueing lock afterwards."""
        policy = self.policies.get(name)
        job_id = policy.pending_job_id
        try:
            return backup.run_policy(self, policy, trigger=trigger, job_id=job_id)
        finally:
            if job_id is not None:
                with self.engine.begin() as conn:
                    current = self.policies.lock(conn, name)
                    if current.pending_job_id == job_id:
                        self.policies.set_pending(conn, policy.id, None)

    def prune(self, name: str) -> list[int]:
        """Apply the policy's retention now; the ids of the runs pruned."""
        if self.destination is None:
            raise NoDestination()
        policy = self.policies.get(name)
        return prune(policy, self.runs, self.destination, datetime.now(UTC))

    # -- verify, restore, freshness ---------------------------------------------------------

    def verify(self, run_id: int) -> restoring.Verification:
        """Re-hash run ``run_id``'s stored file against its record."""
        return restoring.verify(self, self.runs.get(run_id))

    def verify_all(self) -> list[restoring.Verification]:
        """Re-hash every stored file."""
        return [restoring.verify(self, run) for run in self.runs.stored()]

    def restore(
        self,
        run_id: int,
        *,
        server: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> restoring.Restoration:
        """Stream run ``run_id``'s file into its policy's restore command on the policy's
        server, or on ``server``."""
        run = self.runs.get(run_id)
        policy = self.policies.get(run.policy)
        return restoring.restore(
            self,
            run,
            server=server or policy.server,
            command=policy.restore_command,
            on_progress=on_progress,
        )

    def freshness(self) -> list[PolicyFreshness]:
        """Every policy's freshness state, worst first."""
        return policy_freshness(self.engine, self.settings.failing_after)
