"""``ocore dev``: an embedded PostgreSQL in the instance folder unless DATABASE_URL is set;
either way every plugin's migrations are applied before the app starts, so its startup checks
see the tables."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from ocore_database import migrations
from ocore_database.embedded import EmbeddedPostgres
from ocore_database.url import parse_database_url
from ocore_flask.manager import PluginManager

log = logging.getLogger("ocore_database")


@contextmanager
def dev_database(
    environ: Mapping[str, str], instance: Path, plugins: PluginManager
) -> Iterator[dict[str, str]]:
    """The ``dev_services`` hook: yields ``{"DATABASE_URL": ...}`` for the embedded server."""
    if environ.get("DATABASE_URL"):
        log.info("database: using DATABASE_URL from the environment")
        migrate(environ["DATABASE_URL"], plugins)
        yield {}
        return
    server = EmbeddedPostgres(instance / "postgres")
    server.start()
    log.info(
        "database: embedded PostgreSQL on 127.0.0.1:%s, data in %s", server.port, server.data_dir
    )
    try:
        migrate(server.url, plugins)
        yield {"DATABASE_URL": server.url}
    finally:
        server.stop()


def migrate(url: str, plugins: PluginManager) -> None:
    """``ocore db upgrade`` for ``ocore dev``; problems are left for the app's startup report."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        parsed = parse_database_url(url)
    except ValueError:
        return  # the configuration report names it
    engine = create_engine(parsed.sqlalchemy_url, poolclass=NullPool)
    try:
        for line in migrations.upgrade(engine, plugins.active):
            log.info("database: migrated %s", line)
    except Exception as exc:
        log.warning("database: migrations not applied: %s", type(exc).__name__)
    finally:
        engine.dispose()
