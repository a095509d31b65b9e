"""Fixtures for the SSH plugin wired into an app: a real sshd, one database per module, vault keys.

Cloning the migrated template costs ~0.4 s, so each module gets one database
(``module_database_url``) and every test starts from empty ``ssh_servers`` and
``vault_credentials`` tables (``ssh_db``).
The sshd (``sshd``, from the ``ocore_ssh.testing`` kit) is module-scoped too; tests that rotate
host keys or stop the daemon start their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, text

import ocore_database
import ocore_ssh
import ocore_vault
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET
from ocore_ssh import ssh
from ocore_ssh.service import SSHService
from ocore_ssh.testing import Sshd, ed25519_openssh, public_line
from ocore_vault.crypto import KeyRing, VaultKey
from ocore_vault.store import CredentialStore


@dataclass(frozen=True)
class SSHSecrets:
    """Test-only values, recognisable when grepping output: the apps' vault key (>= 32
    characters, high entropy), the passphrase of ``protected_key`` and a password sshd refuses."""

    vault_key: str = "ssh-test-vault-Rw4Tq8Ym2Kd6Hs9Pz3Lc7Nf1"
    passphrase: str = "passphrase-Hy7Tk2Qm9Wb"
    wrong_password: str = "wrong-password-Zr5Xe8Vc"


SECRETS = SSHSecrets()


@pytest.fixture(scope="session")
def ssh_secrets() -> SSHSecrets:
    """The test-only vault key, key passphrase and wrong password."""
    return SECRETS


@pytest.fixture(scope="session")
def ssh_plugins() -> list:
    """The plugins an SSH app needs, in any order (the host orders them by ``requires``)."""
    return [ocore_ssh.plugin, ocore_vault.plugin, ocore_database.plugin]


@pytest.fixture(scope="module")
def client_key(sshd: Sshd) -> str:
    """An unencrypted Ed25519 key (OpenSSH text) the module's sshd accepts."""
    key = ed25519_openssh()
    sshd.authorize(public_line(key))
    return key


@pytest.fixture(scope="module")
def protected_key(sshd: Sshd) -> str:
    """A passphrase-protected Ed25519 key (``ssh_secrets.passphrase``) the module's sshd
    accepts."""
    key = ed25519_openssh(SECRETS.passphrase)
    sshd.authorize(public_line(key, SECRETS.passphrase))
    return key


@pytest.fixture
def ssh_db(module_database_url: str, module_engine: Engine) -> str:
    """The module's database with no servers and no credentials (CASCADE: other plugins'
    tables, such as backup policies, refer to servers)."""
    with module_engine.begin() as conn:
        conn.execute(text("TRUNCATE ssh_servers, vault_credentials CASCADE"))
    return module_database_url


@pytest.fixture
def engine(ssh_db: str, module_engine: Engine) -> Engine:
    """The module's engine on empty tables."""
    return module_engine


@pytest.fixture
def vault(engine: Engine) -> CredentialStore:
    """A credential store with the same key as the apps (``ssh_secrets.vault_key``)."""
    return CredentialStore(engine, KeyRing(VaultKey.from_secret(SECRETS.vault_key)))


@pytest.fixture
def ssh_env(ssh_db: str) -> dict[str, str]:
    """A development environment for an SSH app on the module's database (fresh tables)."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "HEALTH_CACHE_TTL": "0s",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": ssh_db,
        "DB_POOL_MIN_CONNS": "1",
        "DB_POOL_MAX_CONNS": "5",
        "SSH_ENCRYPTION_KEY": SECRETS.vault_key,
        "SSH_CONNECT_TIMEOUT": "5s",
    }


@pytest.fixture
def ssh_app(
    make_app: Callable[..., Flask], ssh_env: dict[str, str], ssh_plugins: list
) -> Callable[..., Flask]:
    """``ssh_app(**variables)``: an app with database, vault and ssh, closed after the test."""

    def build(**variables: Any) -> Flask:
        return make_app({**ssh_env, **{k: str(v) for k, v in variables.items()}}, ssh_plugins)

    return build


AddPasswordServer = Callable[..., None]


def _add_password_server(
    app_or_service: Flask | SSHService,
    vault: CredentialStore,
    server: Sshd,
    name: str = "web1",
    password: str | None = None,
) -> None:
    service = app_or_service
    if not isinstance(service, SSHService):
        service = ssh(service)
    vault.put(f"{name}-pw", "password", password or server.password, username=server.user)
    service.add(name, server.host, port=server.port, credential=f"{name}-pw")


@pytest.fixture(scope="session")
def add_password_server() -> AddPasswordServer:
    """``add_password_server(app_or_service, vault, server, name="web1", password=None)``:
    store a password credential ``<name>-pw`` and add server ``name`` using it."""
    return _add_password_server
