"""Fixtures for the SSH plugin wired into an app: a real sshd, one database per module, vault keys.

Cloning the migrated template costs ~0.4 s, so each module gets one database
(``module_database_url``) and every test starts from empty ``ssh_servers`` and
``vault_credentials`` tables (``ssh_db``).
The sshd is module-scoped too; tests that rotate host keys or stop the daemon start their own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from sqlalchemy import Engine, text

import ocore_database
import ocore_ssh
import ocore_vault
from ocore_flask.state import plugin_state
from ocore_ssh.service import SSHService, ssh_service
from ocore_vault.crypto import KeyRing, VaultKey
from ocore_vault.store import CredentialStore
from tests.conftest import HEALTH_TOKEN, JWT_SECRET
from tests.support.keys import ed25519_openssh
from tests.support.sshd import Sshd, ensure_test_environment

# Test-only vault key (>= 32 characters, high entropy), recognisable when grepping output.
VAULT_KEY = "ssh-test-vault-Rw4Tq8Ym2Kd6Hs9Pz3Lc7Nf1"
PASSPHRASE = "passphrase-Hy7Tk2Qm9Wb"
WRONG_PASSWORD = "wrong-password-Zr5Xe8Vc"


def plugins() -> list:
    """The plugins an SSH app needs, in any order (the host orders them by ``requires``)."""
    return [ocore_ssh.plugin, ocore_vault.plugin, ocore_database.plugin]


def public_line(private_key_text: str, passphrase: str | None = None) -> str:
    """The OpenSSH public key line of a private key text."""
    key = serialization.load_ssh_private_key(
        private_key_text.encode(), passphrase.encode() if passphrase else None
    )
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def open_fds() -> int:
    """File descriptors this process has open (sockets included)."""
    return len(os.listdir("/proc/self/fd"))


def thread_names() -> list[str]:
    """Names of the live threads, for leak messages."""
    return sorted(t.name for t in threading.enumerate())


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    """A real OpenSSH sshd on 127.0.0.1 for the module."""
    ensure_test_environment()
    with Sshd() as server:
        yield server


@pytest.fixture(scope="module")
def client_key(sshd: Sshd) -> str:
    """An unencrypted Ed25519 key (OpenSSH text) the module's sshd accepts."""
    key = ed25519_openssh()
    sshd.authorize(public_line(key))
    return key


@pytest.fixture(scope="module")
def protected_key(sshd: Sshd) -> str:
    """A passphrase-protected Ed25519 key (PASSPHRASE) the module's sshd accepts."""
    key = ed25519_openssh(PASSPHRASE)
    sshd.authorize(public_line(key, PASSPHRASE))
    return key


@pytest.fixture
def ssh_db(module_database_url: str, module_engine: Engine) -> str:
    """The module's database with no servers and no credentials."""
    with module_engine.begin() as conn:
        conn.execute(text("TRUNCATE ssh_servers, vault_credentials"))
    return module_database_url


@pytest.fixture
def engine(ssh_db: str, module_engine: Engine) -> Engine:
    """The module's engine on empty tables."""
    return module_engine


@pytest.fixture
def vault(engine: Engine) -> CredentialStore:
    """A credential store with the same key as the apps (``VAULT_KEY``)."""
    return CredentialStore(engine, KeyRing(VaultKey.from_secret(VAULT_KEY)))


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
        "SSH_ENCRYPTION_KEY": VAULT_KEY,
        "SSH_CONNECT_TIMEOUT": "5s",
    }


@pytest.fixture
def ssh_app(make_app: Callable[..., Flask], ssh_env: dict[str, str]) -> Callable[..., Flask]:
    """``ssh_app(**variables)``: an app with database, vault and ssh, closed after the test."""

    def build(**variables: Any) -> Flask:
        return make_app({**ssh_env, **{k: str(v) for k, v in variables.items()}}, plugins())

    return build


def service_of(app: Flask) -> SSHService:
    """The app's SSH service."""
    return ssh_service(app)


def vault_of(app: Flask) -> CredentialStore:
    """The app's credential store."""
    return plugin_state("vault", app).store


def add_password_server(
    app_or_service: Flask | SSHService,
    vault: CredentialStore,
    server: Sshd,
    name: str = "web1",
    password: str | None = None,
) -> None:
    """Store a password credential ``<name>-pw`` and add server ``name`` using it."""
    service = app_or_service
    if not isinstance(service, SSHService):
        service = service_of(service)
    vault.put(f"{name}-pw", "password", password or server.password, username=server.user)
    service.add(name, server.host, port=server.port, credential=f"{name}-pw")
