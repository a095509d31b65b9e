"""The database plugin's lifecycle: the app's ``Database`` is built and checked at init and
closed at shutdown; what ``init_app`` returns is what ``ocore_database.database()`` hands out."""

from __future__ import annotations

import logging

from flask import Flask

import ocore_database
from ocore_database import migrations
from ocore_database.database import Database, DatabaseUnavailable, PoolOptions
from ocore_database.settings import DatabaseSettings
from ocore_database.url import DatabaseURL
from ocore_flask.errors import ServiceUnavailable
from ocore_flask.redact import scrub_text
from ocore_flask.settings import HostSettings
from ocore_flask.state import get_state, repair_mode

log = logging.getLogger("ocore_database")


def init_app(app: Flask, settings: DatabaseSettings) -> Database:
    """Open the pool (bounded wait for PostgreSQL), warn on the connection budget and on a
    schema behind its migrations; exit 69 (``ServiceUnavailable``) when unreachable."""
    # SQLAlchemy logs every invalidation at INFO under the pool class's name; an outage is
    # reported once by the pool and by health instead.
    logging.getLogger("ocore_database.pool.PgxPool").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    state = get_state(app)
    url = settings.url.reveal()
    db = Database(url, PoolOptions.from_settings(settings))
    try:
        db.start(settings.startup_timeout.seconds)
    except DatabaseUnavailable as exc:
        db.close()
        reason = scrub_text(str(exc), state.config.secret_values())
        raise ServiceUnavailable(unavailable_message(url, exc, reason, settings)) from None
    web_concurrency = state.config.section(HostSettings).web_concurrency
    warning = db.connection_budget(web_concurrency, other_connections(app))
    if warning:
        log.warning("database: %s", warning)
    behind = migrations.pending(db.engine, state.plugins.active)
    if behind and not repair_mode(app):  # `ocore db …` is built for repair: it is the fix
        log.warning("database: schema behind for %s; run `ocore db upgrade`", ", ".join(behind))
    return db


def other_connections(app: Flask) -> dict[str, int]:
    """What the active plugins' ``database_connections`` hooks declare, by label."""
    state = get_state(app)
    found: dict[str, int] = {}
    for plugin in state.plugins.active:
        if state.plugins.implements(plugin, "database_connections"):
            section = state.config.section(plugin.settings) if plugin.settings else None
            found.update(state.plugins.call(plugin, "database_connections", section))
    return found


def unavailable_message(
    url: DatabaseURL, exc: DatabaseUnavailable, reason: str, settings: DatabaseSettings
) -> str:
    """The one-line startup refusal: what happened, after how long, and what to check."""
    where = f"PostgreSQL at {url.where} as user {url.user or '(default)'}"
    if exc.permanent:
        return (
            f"ocore: cannot use {where}: refused after {exc.elapsed:.1f}s (not retried: waiting "
            f"would not help): {reason}. Check the user, password and database name in "
            f"DATABASE_URL."
        )
    return (
        f"ocore: cannot use {where}: no answer after {exc.elapsed:.1f}s of retrying "
        f"(DB_STARTUP_TIMEOUT={settings.startup_timeout}): {reason}. Check that the server is "
        f"running and reachable from here and that DATABASE_URL is right."
    )


def close(app: Flask) -> None:
    """Close every pooled connection and stop the pool's maintenance thread."""
    ocore_database.db(app).close()
