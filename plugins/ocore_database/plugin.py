"""The database plugin: one pgxpool-like SQLAlchemy engine per app, shared by everything."""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask

from ocore_database.settings import RULES, SETTINGS
from ocore_flask.config import Config
from ocore_flask.errors import ServiceUnavailable
from ocore_flask.health import HealthContributor
from ocore_flask.plugin import Plugin
from ocore_flask.redact import scrub_text
from ocore_flask.state import get_state

if TYPE_CHECKING:
    from ocore_database.database import PoolOptions

log = logging.getLogger("ocore_database")


def pool_options(config: Config) -> PoolOptions:
    """The pool's bounds and timings from the settings."""
    from ocore_database.database import PoolOptions

    return PoolOptions(
        min_conns=config["DB_POOL_MIN_CONNS"],
        max_conns=config["DB_POOL_MAX_CONNS"],
        max_conn_lifetime=config["DB_POOL_MAX_CONN_LIFETIME"].seconds,
        max_conn_idle_time=config["DB_POOL_MAX_CONN_IDLE_TIME"].seconds,
        health_check_period=config["DB_POOL_HEALTH_CHECK_PERIOD"].seconds,
        acquire_timeout=config["DB_POOL_ACQUIRE_TIMEOUT"].seconds,
        connect_timeout=config["DB_CONNECT_TIMEOUT"].seconds,
    )


class DatabasePlugin(Plugin):
    """PostgreSQL pool, health section, migrations and ``ocore db`` commands."""

    name = "database"
    description = "PostgreSQL connection pool with pgxpool semantics, migrations, health."
    core = True
    settings = SETTINGS
    rules = RULES

    def init_app(self, app: Flask, config: Config) -> None:
        # SQLAlchemy logs every invalidation at INFO under the pool class's name; an outage
        # is reported once by the pool and by health instead.
        logging.getLogger("ocore_database.pool.PgxPool").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # Imported here, not at module level: `ocore config check` loads every plugin module
        # and must not pay for SQLAlchemy and Alembic.
        from ocore_database import migrations
        from ocore_database.database import Database, DatabaseUnavailable

        url = config.plain("DATABASE_URL")
        db = Database(url, pool_options(config))
        timeout = config["DB_STARTUP_TIMEOUT"]
        try:
            db.start(timeout.seconds)
        except DatabaseUnavailable as exc:
            db.close()
            reason = scrub_text(str(exc), config.secret_values())
            raise ServiceUnavailable(
                f"ocore: cannot use PostgreSQL at {url.where} as user {url.user or '(default)'} "
                f"(waited up to {timeout}): {reason}. Check that the server is running and "
                f"reachable from here and that DATABASE_URL is right."
            ) from None
        get_state(app).plugin_state[self.name] = db
        warning = db.connection_budget(config["WEB_CONCURRENCY"])
        if warning:
            log.warning("database: %s", warning)
        behind = migrations.pending(db.engine, get_state(app).plugins.active)
        if behind:
            log.warning("database: schema behind for %s; run `ocore db upgrade`", ", ".join(behind))

    def close(self, app: Flask) -> None:
        db = get_state(app).plugin_state.pop(self.name, None)
        if db is not None:
            db.close()

    def health_contributors(self) -> list[HealthContributor]:
        from ocore_database.health import CONTRIBUTOR

        return [CONTRIBUTOR]

    def cli_commands(self) -> list[click.Command]:
        from ocore_database.cli import db_group

        return [db_group]

    @contextmanager
    def dev_services(self, environ: MutableMapping[str, str], instance: Path) -> Iterator[None]:
        """An embedded PostgreSQL in ``instance/postgres`` unless DATABASE_URL is set; either way
        the schema is migrated before the app starts, so its startup checks see the tables."""
        if environ.get("DATABASE_URL"):
            log.info("database: using DATABASE_URL from the environment")
            _migrate_for_development(environ)
            yield
            return
        from ocore_database.embedded import EmbeddedPostgres

        server = EmbeddedPostgres(instance / "postgres")
        server.start()
        environ["DATABASE_URL"] = server.url
        log.info(
            "database: embedded PostgreSQL on 127.0.0.1:%s, data in %s",
            server.port,
            server.data_dir,
        )
        try:
            _migrate_for_development(environ)
            yield
        finally:
            server.stop()


def _migrate_for_development(environ: MutableMapping[str, str]) -> None:
    """``ocore db upgrade`` for ``ocore dev``; problems are left for the app's startup report."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from ocore_database import migrations
    from ocore_database.url import parse_database_url
    from ocore_flask.discovery import load_plugins

    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        url = parse_database_url(environ["DATABASE_URL"])
    except ValueError:
        return  # the configuration report names it
    engine = create_engine(url.sqlalchemy_url, poolclass=NullPool)
    try:
        for line in migrations.upgrade(engine, load_plugins(environ).active):
            log.info("database: migrated %s", line)
    except Exception as exc:
        log.warning("database: migrations not applied: %s", type(exc).__name__)
    finally:
        engine.dispose()
