"""Shared fixtures. Every test runs with an isolated process environment: nothing from the
developer's shell (a DATABASE_URL, a JWT_SECRET…) can leak into what a test sees."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

KEEP = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TERM",
    "USER",
    "LOGNAME",
    "SHELL",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "TEST_DATABASE_URL",
)

# Test-only values: strong enough for the strict rules, recognisable when grepping output.
JWT_SECRET = "test-jwt-Zq8vL3nR5tW9yB2dF6hK1mP4sX7cV0aE"
SSH_KEY = "test-ssh-Hk3Lm9Np2Qr5St8Uv1Wx4Yz7Ab0Cd6Ef"
HEALTH_TOKEN = "test-health-Jd8Kf3Lg6Mh9Nj2Pk5Ql0Rm4Sn7Tp1"


@pytest.fixture(autouse=True)
def isolated_environ() -> Iterator[dict[str, str]]:
    """Replace os.environ with a minimal copy for the test; restore it afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({k: v for k, v in saved.items() if k in KEEP})
    try:
        yield os.environ  # type: ignore[misc]
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def strict_env() -> dict[str, str]:
    """A complete, valid production environment (host settings only, no plugin's)."""
    return {
        "ENVIRONMENT": "production",
        "JWT_SECRET": JWT_SECRET,
        "APP_URL": "https://ocore.example.com",
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
    }


@pytest.fixture
def dev_env() -> dict[str, str]:
    """A minimal valid development environment (host settings only)."""
    return {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET}


# --- PostgreSQL: one server per session (or TEST_DATABASE_URL), one fresh database per test ---

TEMPLATE_DB = "ocore_test_template"


def first_party_plugins() -> list:
    """The plugin objects this distribution installs (not a developer's extra plugins), in
    dependency order."""
    from ocore_flask.discovery import load_plugins, plugins_of

    return load_plugins({}, plugins_of("ocore-flask")).active


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def _admin(url: str, *statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of the session's PostgreSQL: TEST_DATABASE_URL (needs CREATEDB) or embedded."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from ocore_database.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"), max_connections=300)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    """A database migrated with every first-party plugin's migrations, cloned per test."""
    from sqlalchemy import create_engine

    from ocore_database import migrations

    _admin(
        pg_server,
        f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)",
        f"CREATE DATABASE {TEMPLATE_DB}",
    )
    engine = create_engine(sqlalchemy_url(with_database(pg_server, TEMPLATE_DB)))
    try:
        migrations.upgrade(engine, first_party_plugins())
    finally:
        engine.dispose()
    return TEMPLATE_DB


@contextmanager
def cloned_database(pg_server: str, template: str | None = None) -> Iterator[str]:
    """A new database (a clone of ``template`` when given), dropped afterwards."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    clone = f" TEMPLATE {template}" if template else ""
    _admin(pg_server, f"CREATE DATABASE {name}{clone}")
    try:
        yield with_database(pg_server, name)
    finally:
        _admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sqlalchemy_url(url: str) -> str:
    """``url`` with the psycopg2 driver SQLAlchemy needs."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


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
def module_engine(module_database_url: str) -> Iterator:
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


@pytest.fixture
def make_app() -> Iterator:
    """``make_app(environ, plugins=None)`` builds apps that are closed after the test."""
    from ocore_flask import close_app, create_app

    apps = []

    def build(environ: dict[str, str], plugins: list | None = None):
        app = create_app(environ, plugins)
        apps.append(app)
        return app

    yield build
    for app in reversed(apps):
        close_app(app)
