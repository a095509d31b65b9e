"""The backups plugin's errors: each message says what is wrong and what to do."""

from __future__ import annotations

from ocore_flask.invocation import invoked


class BackupError(Exception):
    """A backup operation was refused or failed (bad input, unknown policy or run...)."""


class InvalidPolicy(BackupError, ValueError):
    """A policy given to ``policy add`` is not acceptable (name, cron, duration, server)."""


class PolicyNotFound(BackupError, LookupError):
    """No policy has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no backup policy named {name!r}; `{invoked('backups policy list')}` shows them"
        )


class RunNotFound(BackupError, LookupError):
    """No run has that id."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"no backup run {run_id}; `{invoked('backups list')}` shows the runs")


class NotStored(BackupError):
    """The run has no stored file (it failed, is still running, or was pruned)."""


class AlreadyRunning(BackupError):
    """Another run of the policy holds its lock."""


class NoDestination(BackupError):
    """BACKUP_DIR is not set (required outside development once a policy exists)."""

    def __init__(self) -> None:
        super().__init__(
            "BACKUP_DIR is not set: backups need a folder to be stored in outside development. "
            "Set BACKUP_DIR to an absolute path on a disk with room for them, e.g. "
            "BACKUP_DIR=/var/lib/ocore/backups"
        )


class NotMigrated(BackupError):
    """The backup tables do not exist yet."""

    def __init__(self) -> None:
        super().__init__(f"the backup tables do not exist; run `{invoked('db upgrade')}` first")
