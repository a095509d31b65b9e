"""Schema migrations: each plugin owns a folder of Alembic revisions (its ``migrations`` hook,
specified by this plugin) and its own version table, ``alembic_version_<plugin>``; plugins
migrate in dependency order under an advisory lock, so concurrent upgrades cannot interleave."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from ocore_flask.manager import PluginManager
from ocore_flask.plugin import Plugin

ENV_DIR = Path(__file__).resolve().parent / "alembic"
LOCK_ID = 0x6F636F7265  # "ocore"


@dataclass(frozen=True)
class PluginMigrations:
    """One plugin's revisions folder and version table."""

    plugin: str
    folder: Path

    @property
    def version_table(self) -> str:
        """Where Alembic records this plugin's revision."""
        return f"alembic_version_{self.plugin}"

    def alembic_config(self, connection: Any = None) -> AlembicConfig:
        """A programmatic Alembic config (no alembic.ini)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(ENV_DIR))
        cfg.set_main_option("version_locations", str(self.folder))
        cfg.set_main_option("path_separator", "os")
        cfg.attributes["connection"] = connection
        cfg.attributes["version_table"] = self.version_table
        return cfg

    def head(self) -> str | None:
        """The newest revision in the folder."""
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()


def collect(plugins: Iterable[Plugin]) -> list[PluginMigrations]:
    """The plugins (in the order given: init order) that implement the ``migrations`` hook."""
    manager = PluginManager.of(plugins)
    return [
        PluginMigrations(plugin.name, Path(manager.call(plugin, "migrations")))
        for plugin in manager.active
        if manager.implements(plugin, "migrations")
    ]


def upgrade(
    engine: Engine,
    plugins: Iterable[Plugin],
    revision: str = "head",
    *,
    on_plugin: Callable[[str, str | None, str | None], None] | None = None,
) -> list[str]:
    """Apply every plugin's migrations up to ``revision``; returns what was upgraded.
    ``on_plugin(name, before, after)`` is called as each plugin's migrations are done."""
    done = []
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
        try:
            conn.commit()
            for item in collect(plugins):
                before = _current(conn, item)
                command.upgrade(item.alembic_config(conn), revision)
                conn.commit()
                after = _current(conn, item)
                if before != after:
                    done.append(f"{item.plugin}: {before or 'empty'} -> {after}")
                if on_plugin is not None:
                    on_plugin(item.plugin, before, after)
        finally:
            conn.rollback()  # a failed migration leaves the transaction aborted
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
            conn.commit()
    return done


def current(engine: Engine, plugins: Iterable[Plugin]) -> dict[str, dict[str, str | None]]:
    """Each plugin's applied revision and head."""
    with engine.connect() as conn:
        return {
            item.plugin: {"current": _current(conn, item), "head": item.head()}
            for item in collect(plugins)
        }


def pending(engine: Engine, plugins: Iterable[Plugin]) -> list[str]:
    """Plugins whose schema is behind their head (empty when up to date)."""
    return [name for name, rev in current(engine, plugins).items() if rev["current"] != rev["head"]]


def _current(conn: Any, item: PluginMigrations) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table": item.version_table})
    return context.get_current_revision()
