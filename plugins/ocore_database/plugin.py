"""The database plugin: one pgxpool-like SQLAlchemy engine per app, shared by everything."""

from __future__ import annotations

from ocore_database.settings import RULES, SETTINGS
from ocore_flask.plugin import Plugin


class DatabasePlugin(Plugin):
    """PostgreSQL pool, health section, migrations and ``ocore db`` commands."""

    name = "database"
    description = "PostgreSQL connection pool with pgxpool semantics, migrations, health."
    core = True
    settings = SETTINGS
    rules = RULES
