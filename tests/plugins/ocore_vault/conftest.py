"""Fixtures for the vault's database tests.

Cloning the migrated template costs ~0.4 s, so each test module gets one clone
(``module_database_url`` from the ``ocore_database.testing`` kit) and every test starts from an
empty credentials table (``vault_db``, ``TRUNCATE … CASCADE``: the SSH plugin's servers refer to
credentials). Tests that need a database without the schema use ``empty_database``.
The test-only vault keys come from ``vault_keys``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text

from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET
from ocore_vault.crypto import KeyRing, VaultKey
from ocore_vault.store import CredentialStore


@dataclass(frozen=True)
class VaultKeys:
    """Test-only vault keys (>= 32 characters, high entropy), recognisable when grepping
    output: ``a`` is the apps' SSH_ENCRYPTION_KEY (``vault_env``), ``b`` a next key, ``c`` a
    foreign one; ``passphrase`` protects test private keys."""

    a: str = "vault-key-A-Xq7Lp2Rm9Tz4Wc8Ns1Vb6Hd3Jf5"
    b: str = "vault-key-B-Gk2Yh8Pn5Ue3Ma7Qr9Sd4Lw1Zx6"
    c: str = "vault-key-C-Bt6Fn1Kc8Rv3Hx9Wm2Pq5Jd7Ly4"
    passphrase: str = "passphrase-Ov5Tr8Ni2Qa"

    @staticmethod
    def ring(active: str, *previous: str) -> KeyRing:
        """A key ring from SSH_ENCRYPTION_KEY-style secrets."""
        return KeyRing(VaultKey.from_secret(active), [VaultKey.from_secret(p) for p in previous])

    @staticmethod
    def key_id(secret: str) -> str:
        """The hex key id a secret derives."""
        return VaultKey.from_secret(secret).key_id_hex


KEYS = VaultKeys()


@pytest.fixture(scope="session")
def vault_keys() -> VaultKeys:
    """The test-only keys, a key ring builder and the key id of a secret."""
    return KEYS


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
        return CredentialStore(engine, KEYS.ring(active, *previous))

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
    return {**dev_vault_env, "SSH_ENCRYPTION_KEY": KEYS.a}


@pytest.fixture
def make_vault_app(make_app, vault_plugins) -> Callable:
    """``make_vault_app(env)``: an app with only the database and vault plugins."""

    def build(env: dict[str, str]):
        return make_app(env, vault_plugins)

    return build
