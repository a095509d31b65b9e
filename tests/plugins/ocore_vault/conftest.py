"""Fixtures for the vault's database tests.

Cloning the migrated template costs ~0.4 s, so each test module gets one clone
(``module_database_url`` from tests/conftest.py) and every test starts from an empty
credentials table (``vault_db``, ``TRUNCATE … CASCADE``: the SSH plugin's servers refer to
credentials). Tests that need a database without the schema use ``empty_database``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from ocore_vault.store import CredentialStore
from tests.conftest import HEALTH_TOKEN, JWT_SECRET
from tests.plugins.ocore_vault.vault_support import KEY_A, ring


def vault_plugin_list() -> list:
    """The plugins the vault needs, in dependency order."""
    import ocore_database
    import ocore_vault

    return [ocore_database.plugin, ocore_vault.plugin]


@pytest.fixture
def vault_db(module_database_url: str, module_engine: Engine) -> str:
    """The module's database with an empty credentials table."""
    with module_engine.begin() as conn:
        conn.execute(text("TRUNCATE vault_credentials CASCADE"))
    return module_database_url


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
