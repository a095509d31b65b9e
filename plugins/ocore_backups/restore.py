"""Verify and restore stored backups.

``verify`` re-reads a stored file and compares its size and SHA-256 with what the run
recorded; the outcome is stored on the run. ``restore`` streams a stored file into the
policy's restore command on its server (or another one), hashing what it sends: a file that no
longer matches its checksum is reported even though the command already read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ocore_ssh
from ocore_backups.destination import DestinationError
from ocore_backups.errors import NoDestination, NotStored

if TYPE_CHECKING:
    from ocore_backups.destination import Destination
    from ocore_backups.runs import Run
    from ocore_backups.service import BackupsService

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Verification:
    """One stored file checked against its run's record."""

    run_id: int
    policy: str
    path: str
    ok: bool
    error: str | None
    size_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "run": self.run_id,
            "policy": self.policy,
            "path": self.path,
            "ok": self.ok,
            "error": self.error,
            "size_bytes": self.size_bytes,
        }


@dataclass(frozen=True)
class Restoration:
    """What a restore did: the restore command's exit status and the data's integrity."""

    run_id: int
    policy: str
    server: str
    exit_status: int | None
    stderr_line: str | None
    bytes_sent: int
    duration_s: float
    checksum_ok: bool
    error: str | None

    @property
    def ok(self) -> bool:
        """The command exited 0 having read intact data."""
        return self.exit_status == 0 and self.checksum_ok and self.error is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "run": self.run_id,
            "policy": self.policy,
            "server": self.server,
            "ok": self.ok,
            "exit_status": self.exit_status,
            "stderr_line": self.stderr_line,
            "bytes_sent": self.bytes_sent,
            "duration_s": round(self.duration_s, 3),
            "checksum_ok": self.checksum_ok,
            "error": self.error,
        }


def _stored(service: BackupsService, run: Run) -> tuple[Destination, str]:
    if service.destination is None:
        raise NoDestination()
    if not run.stored or run.path is None:
        why = {"running": "is still running", "failed": "failed: it stored nothing"}.get(
            run.status, "was pruned by retention"
        )
        raise NotStored(f"backup run {run.id} of {run.policy} {why}")
    return service.destination, run.path


def verify(service: BackupsService, run: Run) -> Verification:
    """Re-hash run ``run``'s file and record the outcome on the run."""
    destination, key = _stored(service, run)
    digest, size, error = hashlib.sha256(), 0, None
    try:
        with destination.open_read(key) as source:
            while chunk := source.read(READ_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except (OSError, DestinationError) as exc:
        error = f"cannot read the stored file: {exc}"
    if error is None and size != run.size_bytes:
        error = f"size changed: {size} bytes stored, {run.size_bytes} recorded"
    elif error is None and digest.hexdigest() != run.sha256:
        error = "checksum mismatch: the stored file was altered (SHA-256 differs from the record)"
    service.runs.record_verification(run.id, error)
    return Verification(run.id, run.policy, key, error is None, error, size)


class _HashingReader:
    """Reads through a file, hashing and counting what was read."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data


def restore(
    service: BackupsService,
    run: Run,
    *,
    server: str,
    command: str,
    on_progress: Callable[[int], None] | None = None,
) -> Restoration:
    """Stream run ``run``'s file into ``command`` on ``server``; the exit status is reported,
    never raised (a timeout or a lost connection is a Restoration with an error)."""
    destination, key = _stored(service, run)
    timeout = service.settings.run_timeout
    error = exit_status = stderr_line = None
    duration, sent = 0.0, 0
    with destination.open_read(key) as source:
        reader = _HashingReader(source)
        try:
            result = ocore_ssh.ssh(service.app).stream(
                server, command, stdin=reader, timeout=timeout.seconds, on_progress=on_progress
            )
        except ocore_ssh.CommandTimeout:
            error = f"timed out after {timeout} (BACKUP_RUN_TIMEOUT): killed on the server"
        except ocore_ssh.SSHError as exc:
            error = f"SSH: {exc}"
        else:
            exit_status, duration, sent = result.exit_status, result.duration, result.bytes_in
            stderr_line = result.last_stderr_line or None
            if exit_status == -1:
                error = "the restore command was killed by a signal (no exit status)"
            elif exit_status != 0:
                error = f"the restore command exited with status {exit_status}"
    complete = sent == reader.size == run.size_bytes
    checksum_ok = complete and reader.sha256.hexdigest() == run.sha256
    if error is None and not complete:
        error = f"the restore command stopped reading after {sent} of {run.size_bytes} bytes"
    elif error is None and not checksum_ok:
        error = (
            "checksum mismatch: the stored file was altered; the restored data is not the backup"
        )
    return Restoration(
        run_id=run.id,
        policy=run.policy,
        server=server,
        exit_status=exit_status,
        stderr_line=service.line(stderr_line),
        bytes_sent=sent,
        duration_s=duration,
        checksum_ok=checksum_ok,
        error=service.line(error),
    )
