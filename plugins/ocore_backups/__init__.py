"""First-party plugin ``backups``: scheduled backups of managed servers over SSH, verified,
restorable, pruned, and their freshness in the health payload.

Siblings use ``backups()``: the app's ``BackupsService`` (policies, runs, verify, restore,
freshness). Runs are jobs of the jobs plugin; the command's output streams over the ssh
plugin's pool into BACKUP_DIR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_backups.settings import BackupsSettings
from ocore_database import migrations_folder
from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of

if TYPE_CHECKING:
    from pathlib import Path

    from flask import Flask

    from ocore_backups.service import BackupsService

_EXPORTS = {
    "AlreadyRunning": "ocore_backups.errors",
    "BackupError": "ocore_backups.errors",
    "BackupsService": "ocore_backups.service",
    "Destination": "ocore_backups.destination",
    "DirectoryDestination": "ocore_backups.destination",
    "InvalidPolicy": "ocore_backups.errors",
    "NoDestination": "ocore_backups.errors",
    "NotStored": "ocore_backups.errors",
    "PolicyNotFound": "ocore_backups.errors",
    "RunNotFound": "ocore_backups.errors",
}
__all__ = ["backups", "plugin", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)


def _migrations() -> Path:
    return migrations_folder(__file__)


plugin = Plugin(
    "backups",
    "Scheduled backups of managed servers over SSH: verify, restore, retention, freshness.",
    requires=("database", "ssh", "jobs"),
    settings=BackupsSettings,
    hooks={
        "init_app": "ocore_backups.service:init_app",
        "migrations": _migrations,
        "tasks": "ocore_backups.tasks:tasks",
        "health_contributors": "ocore_backups.health:contributors",
        "cli_commands": "ocore_backups.cli:commands",
    },
)


def backups(app: Flask | None = None) -> BackupsService:
    """The app's backups service (default: ``current_app``'s)."""
    return service_of(plugin, app)
