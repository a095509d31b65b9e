"""PostgreSQL for tests and benchmarks: the ``ocore_database`` pytest plugin and its helpers.

Registered as a pytest plugin (entry point ``pytest11: ocore_database``), it provides:

- ``pg_server`` (session): admin URL of ``TEST_DATABASE_URL`` (the role needs CREATEDB), else
  of one embedded PostgreSQL started for the session;
- ``pg_template`` (session): a database migrated with every first-party plugin's migrations,
  cloned for each test and dropped when the session ends;
- ``database_url``: a fresh migrated database for the test, dropped afterwards;
- ``module_database_url`` / ``module_engine`` (module): one migrated database (and a plain
  SQLAlchemy engine on it) for a whole module, whose tests empty their tables themselves;
- ``empty_database``: a database without any schema, dropped afterwards;
- ``app_env``: a valid development environment on ``database_url`` with a health token.

Plain helpers for benchmarks and scripts: ``running_postgres``, ``cloned_database``,
``with_database``, ``sqlalchemy_url``, ``first_party_plugins``; for a health contributor's
``dependency_down``: ``database_unreachable(holder)``.

pytest imports this module at startup in every run: SQLAlchemy, psycopg2 and the embedded
server load inside the functions that need them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ocore_flask.testing.environ import HEALTH_TOKEN, JWT_SECRET

if TYPE_CHECKING:
    from sqlalchemy import Engine

TEMPLATE_PREFIX = "ocore_test_template"


# -- helpers ----------------------------------------------------------------------------------


def first_party_plugins() -> list[Any]:
    """The plugin objects this distribution installs (not a developer's extra plugins), in
    dependency order."""
    from ocore_flask.discovery import load_plugins, plugins_of

    return load_plugins({}, plugins_of("ocore-flask")).active


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def sqlalchemy_url(url: str) -> str:
    """``url`` with the psycopg2 driver SQLAlchemy needs."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def admin(url: str, *statements: str) -> None:
    """Run ``statements`` on ``url`` in autocommit mode (CREATE/DROP DATABASE...)."""
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@contextmanager
def running_postgres(
    url: str | None = None, data_dir: str | Path | None = None, **options: Any
) -> Iterator[str]:
    """``url`` when given, else the URL of an embedded PostgreSQL running until the block
    ends (in ``data_dir``, or in a temporary directory removed afterwards). ``options`` go to
    ``EmbeddedPostgres`` (e.g. ``max_connections``)."""
    if url:
        yield url
        return
    from ocore_database.embedded import EmbeddedPostgres

    scratch = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="ocore-test-pg-")) if scratch else Path(data_dir)
    server = EmbeddedPostgres(directory, **options)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        if scratch:
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def cloned_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on ``server_url`` (a clone of ``template`` when given, else empty),
    dropped afterwards; yields its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    clone = f" TEMPLATE {template}" if template else ""
    admin(server_url, f"CREATE DATABASE {name}{clone}")
    try:
        yield with_database(server_url, name)
    finally:
        admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def backend_count(url: str, application_name: str) -> int:
    """How many server sessions PostgreSQL has open for ``application_name`` (pg_stat_activity)."""
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (application_name,),
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def migrate(url: str, plugins: list[Any] | None = None) -> None:
    """Apply ``plugins``' migrations (default: every first-party plugin's) to ``url``."""
    from sqlalchemy import create_engine

    from ocore_database import migrations

    engine = create_engine(sqlalchemy_url(url))
    try:
        migrations.upgrade(engine, first_party_plugins() if plugins is None else plugins)
    finally:
        engine.dispose()


@contextmanager
def database_unreachable(holder: Any, attribute: str = "engine") -> Iterator[None]:
    """For the block, ``holder.<attribute>`` is an engine on a port where nothing listens
    (connections are refused at once); the real one is put back afterwards."""
    from sqlalchemy import create_engine

    from ocore_flask.testing import free_port

    real = getattr(holder, attribute)
    dead = create_engine(
        f"postgresql+psycopg2://ocore:x@127.0.0.1:{free_port()}/ocore",
        connect_args={"connect_timeout": 1},
    )
    setattr(holder, attribute, dead)
    try:
        yield
    finally:
        setattr(holder, attribute, real)
        dead.dispose()


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of the session's PostgreSQL: TEST_DATABASE_URL (needs CREATEDB) or embedded."""
    url = os.environ.get("TEST_DATABASE_URL")
    data_dir = None if url else tmp_path_factory.mktemp("postgres")
    with running_postgres(url, data_dir, max_connections=300) as server_url:
        yield server_url


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> Iterator[str]:
    """The name of a database migrated with every first-party plugin's migrations, cloned per
    test. Its name is unique to the session, so sessions sharing TEST_DATABASE_URL (or a
    ``pytester`` run inside a session) never drop each other's template."""
    name = f"{TEMPLATE_PREFIX}_{uuid.uuid4().hex[:8]}"
    admin(pg_server, f"CREATE DATABASE {name}")
    try:
        migrate(with_database(pg_server, name))
        yield name
    finally:
        admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(pg_server: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated database for this test only (dropped afterwards)."""
    with cloned_database(pg_server, pg_template) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(pg_server: str, pg_template: str) -> Iterator[str]:
    """One migrated database for a whole test module (cloning costs ~0.4 s); modules that use
    it empty their tables per test."""
    with cloned_database(pg_server, pg_template) as url:
        yield url


@pytest.fixture(scope="module")
def module_engine(module_database_url: str) -> Iterator[Engine]:
    """A plain engine (no app) on the module's database, for stores and direct SQL."""
    from sqlalchemy import create_engine

    engine = create_engine(sqlalchemy_url(module_database_url), pool_size=8, max_overflow=4)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    """A database with no schema at all (migrations not applied), dropped afterwards."""
    with cloned_database(pg_server) as url:
        yield url


@pytest.fixture
def app_env(database_url: str) -> dict[str, str]:
    """A valid development environment on this test's database, with a health token."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "DATABASE_URL": database_url,
        "DB_POOL_MIN_CONNS": "1",
        "DB_POOL_MAX_CONNS": "5",
    }
