"""Test kit of the backups plugin (pytest plugin ``ocore_backups``, entry point ``pytest11``).

Fixtures (they build on ``ocore_database.testing`` and ``ocore_ssh.testing``'s ``sshd``):

- ``backup_key``: an Ed25519 key the module's sshd accepts (OpenSSH text);
- ``backups_db``: the module's database with no policies, runs, servers, credentials or jobs;
- ``backups_env``: ``backups_environ`` on it with BACKUP_DIR in a fresh folder;
  ``backups_app(**variables)`` builds an app with the database, vault, ssh, jobs and backups
  plugins;
- ``remote_folder``: ``remote_folder()`` makes a folder the sshd test user owns.

Plain helpers: ``backups_environ(database_url, backup_dir, **extra)`` (a development
environment with the jobs kit's fast worker timings, for apps and workers alike),
``truncate(engine)``, ``add_backup_server(app, sshd, key, name)`` stores a key credential and adds
(and pins) the server; ``make_tree(folder)`` writes a small tree with binary files, a symlink
and odd names; ``tree_snapshot(folder)`` describes one byte for byte; ``FullDisk`` is a
destination whose writes fail with ENOSPC after a number of bytes; ``WORKER_PLUGINS`` are
what a ``ocore_jobs.testing.WorkerProcess`` needs to run backups.

pytest imports this module in every run: Flask, SQLAlchemy and the plugin load inside the
fixtures and helpers.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ocore_backups.destination import DirectoryDestination, TempFile

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy import Engine

    from ocore_ssh.testing import Sshd

VAULT_KEY = "backups-test-vault-Lq7Wd2Rk9Tz4Hx8Pm3Vc6Nb1"
TABLES = "backup_runs, backup_policies, ssh_servers, vault_credentials, procrastinate_jobs"
WORKER_PLUGINS = [
    "ocore_database:plugin",
    "ocore_vault:plugin",
    "ocore_ssh:plugin",
    "ocore_jobs:plugin",
    "ocore_backups:plugin",
]


def backups_plugins() -> list[Any]:
    """The plugin objects a backups app needs (the host orders them by ``requires``)."""
    import ocore_backups
    import ocore_database
    import ocore_jobs
    import ocore_ssh
    import ocore_vault

    return [
        ocore_database.plugin,
        ocore_vault.plugin,
        ocore_ssh.plugin,
        ocore_jobs.plugin,
        ocore_backups.plugin,
    ]


def add_backup_server(app: Flask, sshd: Sshd, key: str, name: str = "db1") -> None:
    """Store ``key`` as vault credential ``<name>-key`` and add server ``name`` (the module's
    sshd), its host key pinned up front."""
    import ocore_ssh
    import ocore_vault

    ocore_vault.credentials(app).put(f"{name}-key", "private_key", key, username=sshd.user)
    pinned = sshd.host_public_keys["ed25519"]
    ocore_ssh.ssh(app).add(
        name, sshd.host, port=sshd.port, credential=f"{name}-key", host_key=pinned
    )


def make_tree(folder: Path, size: int = 300_000) -> Path:
    """A small tree: random binary files, an empty file, nested folders, odd names, a
    symlink; readable by anyone."""
    (folder / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    (folder / "random.bin").write_bytes(os.urandom(size))
    (folder / "sub" / "name with spaces & ünïcode.txt").write_text("hello\n" * 1000)
    (folder / "sub" / "deeper" / "zeros.bin").write_bytes(bytes(size // 3))
    (folder / "empty").write_bytes(b"")
    (folder / "link").symlink_to("random.bin")
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def tree_snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under ``folder``: file bytes, symlink targets, folders."""
    found: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = ("link", os.readlink(path))
        elif path.is_dir():
            found[name] = ("dir",)
        else:
            found[name] = ("file", path.read_bytes())
    return found


class _FailingTemp(TempFile):
    def __init__(self, folder: Path, policy: str, limit: int) -> None:
        super().__init__(folder, policy)
        self.limit = limit
        self.written = 0

    def write(self, data: bytes) -> int:
        if self.written + len(data) > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written += len(data)
        return super().write(data)


class FullDisk(DirectoryDestination):
    """A directory destination whose disk "fills up" after ``limit`` bytes of one backup."""

    def __init__(self, root: str | os.PathLike[str], limit: int) -> None:
        super().__init__(root)
        self.limit = limit

    def open_temp(self, policy: str) -> TempFile:
        """A temporary file that raises ENOSPC once ``limit`` bytes were written."""
        return _FailingTemp(self._folder(policy), policy, self.limit)


def backups_environ(database_url: str, backup_dir: str | Path, **extra: str) -> dict[str, str]:
    """A development environment for a backups app or worker on ``database_url``: BACKUP_DIR
    ``backup_dir``, a 20 s run timeout, the jobs kit's fast worker timings, plus ``extra``."""
    from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, base_env
    from ocore_jobs.testing import TEST_SETTINGS

    return base_env(
        {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
            "HEALTH_CACHE_TTL": "0s",
            "LOG_LEVEL": "warning",
            "DATABASE_URL": database_url,
            "DB_POOL_MIN_CONNS": "1",
            "DB_POOL_MAX_CONNS": "6",
            "SSH_ENCRYPTION_KEY": VAULT_KEY,
            "SSH_CONNECT_TIMEOUT": "5s",
            "BACKUP_DIR": str(backup_dir),
            "BACKUP_RUN_TIMEOUT": "20s",
            **TEST_SETTINGS,
            **extra,
        }
    )


def truncate(engine: Engine) -> None:
    """Empty the backup, server, credential and job tables."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} CASCADE"))


@pytest.fixture(scope="module")
def backup_key(sshd: Sshd) -> str:
    """An Ed25519 private key (OpenSSH text) the module's sshd accepts."""
    from ocore_ssh.testing import ed25519_openssh, public_line

    key = ed25519_openssh()
    sshd.authorize(public_line(key))
    return key


@pytest.fixture
def backups_db(module_database_url: str, module_engine: Engine) -> str:
    """The module's database without policies, runs, servers, credentials or jobs."""
    truncate(module_engine)
    return module_database_url


@pytest.fixture
def backups_env(backups_db: str, tmp_path: Path) -> dict[str, str]:
    """``backups_environ`` on the module's (emptied) database, BACKUP_DIR in ``tmp_path``."""
    return backups_environ(backups_db, tmp_path / "backups")


@pytest.fixture
def backups_app(
    make_app: Callable[..., Flask], backups_env: dict[str, str]
) -> Callable[..., Flask]:
    """``backups_app(**variables)``: an app with database, vault, ssh, jobs and backups."""

    def build(**variables: Any) -> Flask:
        env = {**backups_env, **{k: str(v) for k, v in variables.items()}}
        return make_app(env, backups_plugins())

    return build


@pytest.fixture
def remote_folder(sshd: Sshd) -> Iterator[Callable[[], Path]]:
    """``remote_folder()``: a new folder owned by the sshd test user (removed afterwards);
    pytest's own temporary folders are root-only."""
    made: list[Path] = []
    user = pwd.getpwnam(sshd.user)

    def make() -> Path:
        folder = Path(tempfile.mkdtemp(prefix="ocore-backups-"))
        os.chown(folder, user.pw_uid, user.pw_gid)
        folder.chmod(0o755)
        made.append(folder)
        return folder

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)
