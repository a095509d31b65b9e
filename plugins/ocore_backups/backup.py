"""One backup run: the policy's command streamed over the SSH pool into the destination.

Under the policy's advisory lock (two workers never run one policy at once; a run left
``running`` by a dead worker is failed first), a run row is inserted, the command's stdout is
written to a temporary object while its SHA-256 and size are computed, and the object is
committed (fsync, rename) only when the command exited 0 and the stream ended normally.
Anything else (a non-zero exit, a signal, no output at all, the timeout, a lost connection, a
write error such as a full disk) is recorded as a failure with the exit status, the scrubbed
last line of stderr and a reason; the temporary object is removed and earlier backups are left
alone. After a success, retention prunes older backups.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ocore_ssh
from ocore_backups.errors import AlreadyRunning, NoDestination
from ocore_backups.retention import prune
from ocore_flask.health.freshness import format_age

if TYPE_CHECKING:
    from ocore_backups.destination import Destination, Upload
    from ocore_backups.policies import Policy
    from ocore_backups.runs import Run
    from ocore_backups.service import BackupsService

log = logging.getLogger("ocore_backups")
#: how often a running backup stores its progress (bytes so far) on its row
PROGRESS_EVERY = 2.0
Progress = Callable[[int], None]


class HashingSink:
    """Writes through to an upload, hashing and counting as it goes."""

    def __init__(self, upload: Upload, on_progress: Progress | None = None) -> None:
        self.upload = upload
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.on_progress = on_progress

    def write(self, data: bytes) -> int:
        self.upload.write(data)
        self.sha256.update(data)
        self.size += len(data)
        if self.on_progress is not None:
            self.on_progress(self.size)
        return len(data)


@dataclass
class Outcome:
    """What a finished stream amounts to: success (a key) or a failure's details."""

    key: str | None = None
    error: str | None = None
    exit_status: int | None = None
    stderr_line: str | None = None


def file_name(policy: str, started: datetime, run_id: int) -> str:
    """``<policy>-<UTC time>-<run id>.backup``: sortable, unique, never reused."""
    return f"{policy}-{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{run_id}.backup"


def run_policy(
    service: BackupsService,
    policy: Policy,
    *,
    trigger: str,
    job_id: int | None = None,
    on_progress: Progress | None = None,
) -> Run:
    """Run one backup of ``policy`` now, in this process; AlreadyRunning when another run of
    it holds the lock. The run is recorded whatever happens to it."""
    with service.runs.policy_lock(policy.id) as got:
        if not got:
            raise AlreadyRunning(f"policy {policy.name} is being backed up by another process")
        recover(service, policy)
        run = service.runs.start(policy.id, trigger, job_id)
        try:
            outcome = _stream(service, policy, run, on_progress)
        except BaseException as exc:  # a bug or the database: still never leave it running
            service.runs.finish(run.id, "failed", error=service.line(f"internal error: {exc!r}"))
            raise
        if outcome.key is None:
            return service.runs.finish(
                run.id,
                "failed",
                error=service.line(outcome.error),
                exit_status=outcome.exit_status,
                stderr_line=service.line(outcome.stderr_line),
            )
        return service.runs.get(run.id)


def recover(service: BackupsService, policy: Policy) -> list[int]:
    """Fail the runs a dead worker left ``running`` and remove its temporary files (the
    caller holds the policy's lock, so nobody else is running it)."""
    with service.engine.begin() as conn:
        lost = service.runs.interrupt_running(
            conn, policy.id, "interrupted: the process running it stopped (killed or crashed)"
        )
    destination = service.destination
    if lost and destination is not None and hasattr(destination, "stale_temps"):
        for path in destination.stale_temps(policy.name):
            path.unlink(missing_ok=True)
    return lost


def _stream(
    service: BackupsService, policy: Policy, run: Run, on_progress: Progress | None
) -> Outcome:
    """Stream the command into a committed backup, or say why not (the row stays running)."""
    destination = service.destination
    if destination is None:
        outcome = Outcome(error=str(NoDestination()))
        return outcome
    try:
        upload = destination.open_temp(policy.name)
    except OSError as exc:
        return Outcome(error=f"cannot create the backup file in {destination.describe()}: {exc}")
    sink = HashingSink(upload, _progress(service, run.id, on_progress))
    timeout = service.settings.run_timeout
    outcome = Outcome()
    try:
        result = ocore_ssh.ssh(service.app).stream(
            policy.server, policy.command, stdout=sink, timeout=timeout.seconds
        )
    except ocore_ssh.CommandTimeout as exc:
        outcome = Outcome(
            error=f"timed out after {timeout} (BACKUP_RUN_TIMEOUT): killed on the server",
            stderr_line=_last_line(exc.stderr),
        )
    except ocore_ssh.SSHError as exc:
        outcome = Outcome(error=f"SSH: {exc}")
    except OSError as exc:
        outcome = Outcome(error=f"writing the backup failed: {_os_reason(exc)}")
    else:
        outcome = _judge(result, sink)
        if outcome.error is None:
            try:
                name = file_name(policy.name, run.started_at, run.id)
                outcome.key = destination.commit(upload, name)
            except OSError as exc:
                outcome = Outcome(
                    error=f"storing the backup failed: {_os_reason(exc)}",
                    exit_status=result.exit_status,
                )
    if outcome.key is None:
        destination.abort(upload)
        return outcome
    service.runs.finish(
        run.id,
        "succeeded",
        path=outcome.key,
        size_bytes=sink.size,
        sha256=sink.sha256.hexdigest(),
        exit_status=0,
        stderr_line=service.line(outcome.stderr_line),
    )
    _prune_after_success(service, policy, destination)
    return outcome


def _judge(result: Any, sink: HashingSink) -> Outcome:
    """A finished stream: success (exit 0 with output) or the failure's reason."""
    line = _last_line(result.stderr_tail)
    status = result.exit_status
    if status == -1:
        return Outcome(
            error="the command was killed by a signal before it finished (no exit status)",
            stderr_line=line,
        )
    if status != 0:
        return Outcome(
            error=f"the command exited with status {status}", exit_status=status, stderr_line=line
        )
    if sink.size == 0:
        return Outcome(
            error="the command printed nothing: an empty backup is never valid",
            exit_status=0,
            stderr_line=line,
        )
    return Outcome(exit_status=0, stderr_line=line)


def _prune_after_success(service: BackupsService, policy: Policy, destination: Destination) -> None:
    """Retention after a success; a failure to prune never fails the run (logged)."""
    try:
        pruned = prune(policy, service.runs, destination, datetime.now(UTC))
    except Exception:
        log.exception("backups: pruning policy %s failed", policy.name)
        return
    if pruned:
        log.info("backups: pruned %d old backup(s) of %s", len(pruned), policy.name)


def _progress(service: BackupsService, run_id: int, extra: Progress | None) -> Progress:
    """Store the size on the run row every PROGRESS_EVERY seconds, and call ``extra``."""
    last = [time.monotonic()]

    def report(size: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            try:
                service.runs.progress(run_id, size)
            except Exception:  # progress is cosmetic: never break the stream for it
                log.debug("backups: progress of run %s not stored", run_id, exc_info=True)
        if extra is not None:
            extra(size)

    return report


def _last_line(text: str | None) -> str | None:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def age_text(moment: datetime | None, now: datetime | None = None) -> str:
    """``3h 5m ago`` or ``never``."""
    if moment is None:
        return "never"
    return f"{format_age((now or datetime.now(UTC)) - moment)} ago"
