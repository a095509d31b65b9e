"""Fixtures for the vault's database tests.

Cloning the migrated template costs ~0.4 s, so each test module gets one clone
(``vault_db_url``) and every test starts from an empty credentials table (``vault_db``,
``TRUNCATE … CASCADE``: the SSH plugin's servers refer to credentials). Tests that need a
database without the schema make their own (``empty_database``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from ocore_vault.store import CredentialStore
from tests.conftest import HEALTH_TOKEN, JWT_SECRET, _admin, with_database
from tests.plugins.ocore_vault.vault_support import KEY_A, ring


def sqlalchemy_url(url: str) -> str:
    """The psycopg2 SQLAlchemy form of a postgresql:// URL."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def vault_plugin_list() -> list:
    """The plugins the vault needs, in dependency order."""
    import ocore_database
    import ocore_vault

    return [ocore_database.plugin, ocore_vault.plugin]


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    """A database with no schema at all (migrations not applied), dropped afterwards."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    _admin(pg_server, f"CREATE DATABASE {name}")
    try:
        yield with_database(pg_server, name)
    finally:
        _admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def vault_db_url(pg_server: str, pg_template: str) -> Iterator[str]:
    """One database for this test module: a clone of the session's template, which is
    migrated with every first-party plugin's migrations (``ocore db upgrade``'s code path)."""
    name = f"v_{uuid.uuid4().hex[:12]}"
    _admin(pg_server, f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    try:
        yield with_database(pg_server, name)
    finally:
        _admin(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def module_engine(vault_db_url: str) -> Iterator[Engine]:
    eng = create_engine(sqlalchemy_url(vault_db_url), pool_size=8, max_overflow=4)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def vault_db(vault_db_url: str, module_engine: Engine) -> str:
    """The module's database with an empty credentials table."""
    with module_engine.begin() as conn:
        conn.execute(text("TRUNCATE vault_credentials CASCADE"))
    return vault_db_url


@pytest.fixture
def engine(vault_db: str, module_engine: Engine) -> Engine:
    """A plain engine (no app) on an empty credentials table, for direct SQL and stores."""
    return module_engine


@pytest.fixture
def store_for(engine: Engine) -> Callable[..., CredentialStore]:
    """``store_for(active, *previous)``: a CredentialStore with that key ring."""

    def build(active: str, *previous: str) -> CredentialStore:
        return CredentialStore(engine, ring(active, *previous))

    return build


@pytest.fixture
def vault_plugins() -> list:
    return vault_plugin_list()


@pytest.fixture
def dev_vault_env(vault_db: str) -> dict[str, str]:
    """Like ``app_env`` (development, health token, small pool) on the module's database,
    without SSH_ENCRYPTION_KEY: the vault key derives from JWT_SECRET."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "DATABASE_URL": vault_db,
        "DB_POOL_MIN_CONNS": "1",
        "DB_POOL_MAX_CONNS": "5",
    }


@pytest.fixture
def vault_env(dev_vault_env: dict[str, str]) -> dict[str, str]:
    """The development environment with an explicit SSH_ENCRYPTION_KEY (key A)."""
    return {**dev_vault_env, "SSH_ENCRYPTION_KEY": KEY_A}


@pytest.fixture
def make_vault_app(make_app, vault_plugins) -> Callable:
    """``make_vault_app(env)``: an app with only the database and vault plugins."""

    def build(env: dict[str, str]):
        return make_app(env, vault_plugins)

    return build
