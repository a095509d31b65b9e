"""First-party plugin ``jobs``: a PostgreSQL job queue (procrastinate) for every plugin's tasks.

Plugins offer tasks through their ``tasks()`` hook (``ocore_flask.tasks.Task``); siblings defer
them with ``jobs()``: the app's ``JobsService`` (``defer``, ``job``, ``jobs``, ``status``...).
Deferring uses the shared engine (no connection of its own) and can join the caller's
transaction; ``ocore worker`` runs them with its own small pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_database import migrations_folder
from ocore_flask.plugin import Plugin, lazy_exports
from ocore_flask.state import service_of
from ocore_jobs.settings import CROSS_RULES, JobsSettings

if TYPE_CHECKING:
    from pathlib import Path

    from flask import Flask

    from ocore_jobs.service import JobsService

_EXPORTS = {
    "BadArguments": "ocore_jobs.errors",
    "JobNotFound": "ocore_jobs.errors",
    "JobStateError": "ocore_jobs.errors",
    "JobsError": "ocore_jobs.errors",
    "JobsService": "ocore_jobs.service",
    "UnknownTask": "ocore_jobs.errors",
}
__all__ = ["jobs", "plugin", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)


def _migrations() -> Path:
    return migrations_folder(__file__)


plugin = Plugin(
    "jobs",
    "PostgreSQL job queue (procrastinate): plugins' tasks, workers, periodic tasks, health.",
    requires=("database",),
    settings=JobsSettings,
    cross_rules=CROSS_RULES,
    hooks={
        "init_app": "ocore_jobs.service:init_app",
        "close": "ocore_jobs.service:close",
        "migrations": _migrations,
        "tasks": "ocore_jobs.tasks:tasks",
        "health_contributors": "ocore_jobs.health:contributors",
        "cli_commands": "ocore_jobs.cli:commands",
        "dev_services": "ocore_jobs.dev:dev_services",
        "database_connections": "ocore_jobs.settings:worker_connections",
    },
)


def jobs(app: Flask | None = None) -> JobsService:
    """The app's jobs service (default: ``current_app``'s)."""
    return service_of(plugin, app)
