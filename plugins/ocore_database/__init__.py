"""First-party plugin ``database``: PostgreSQL for the whole app.

Siblings use the accessors, never the per-app state: ``engine()`` for SQL and ``db()`` for the
pool's metrics and checks. The plugin owns the ``migrations`` hook: a plugin that implements it
returns the folder of its Alembic revisions, applied by ``ocore db upgrade``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ocore_database.settings import CROSS_RULES, DatabaseSettings
from ocore_flask.hookspecs import HookSpec
from ocore_flask.plugin import Plugin
from ocore_flask.state import service_of

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy import Engine

    from ocore_database.database import Database

__all__ = ["CONNECTIONS", "MIGRATIONS", "db", "engine", "plugin"]

MIGRATIONS = HookSpec(
    "migrations",
    (),
    "The folder of the plugin's Alembic revisions; they run in dependency order under an "
    "advisory lock, each plugin with its own version table (alembic_version_<plugin>).",
    returns="a pathlib.Path",
    owner="database",
)

CONNECTIONS = HookSpec(
    "database_connections",
    ("settings",),
    "Connections the plugin's own processes open outside the shared pool (e.g. a job worker's "
    "pool), by label; the startup connection-budget warning adds them to the web pools'.",
    returns="a mapping of label to number of connections",
    owner="database",
)

plugin = Plugin(
    "database",
    "PostgreSQL connection pool with pgxpool semantics, migrations, health.",
    core=True,
    settings=DatabaseSettings,
    cross_rules=CROSS_RULES,
    hookspecs=(MIGRATIONS, CONNECTIONS),
    hooks={
        "init_app": "ocore_database.service:init_app",
        "close": "ocore_database.service:close",
        "health_contributors": "ocore_database.health:contributors",
        "cli_commands": "ocore_database.cli:commands",
        "dev_services": "ocore_database.dev:dev_database",
    },
)


def db(app: Flask | None = None) -> Database:
    """The app's ``Database`` (default: ``current_app``'s): pool metrics, checks, connections."""
    return service_of(plugin, app)


def engine(app: Flask | None = None) -> Engine:
    """The app's SQLAlchemy engine over the shared pool."""
    return db(app).engine


def migrations_folder(package_file: str) -> Path:
    """``migrations/`` beside a plugin package's ``__init__.py``: what a ``migrations`` hook
    usually returns."""
    return Path(package_file).resolve().parent / "migrations"
