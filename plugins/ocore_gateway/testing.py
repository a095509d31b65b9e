"""Test kit of the gateway plugin (a pytest plugin, entry point ``pytest11: ocore_gateway``).

Fixtures (module-scoped, so one gateway process serves a whole test module):

- ``gateway_env``: a development environment on the module's database with the gateway
  enabled on a free loopback port, a 1s heartbeat and small session limits;
- ``gateway_app``: an app with the database, auth, vault, ssh and gateway plugins;
- ``gateway``: a running ``ocore gateway`` process (``GatewayProcess``) with its host key in a
  ``known_hosts`` file, ready for the real OpenSSH client (``gateway.ssh(...)``);
- ``backend``: the module's ``sshd`` added as managed server ``web1`` with a vault password
  credential and its pinned host key;
- ``gateway_users``: ``gateway_users(role="viewer")`` creates a user with an Ed25519 key
  (made by ``ssh-keygen``) registered for the gateway.

Helpers: ``keygen(directory, name, key_type, bits)`` (``ssh-keygen``: a ``ClientKey``),
``add_backend(app, sshd, name)``, ``GatewayProcess(env)``.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from ocore_flask.cli.dev_process import stop_process
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, base_env, free_port

#: Test-only vault key (>= 32 characters, high entropy), recognisable when grepping output.
VAULT_KEY = "gateway-test-vault-Qm7Rt2Xw9Lp4Kd8Hs3Nz"
HOST = "127.0.0.1"
_serial = itertools.count(1)


@dataclass(frozen=True)
class ClientKey:
    """A key pair made by ``ssh-keygen``: the private key file and the public line."""

    path: Path
    public_line: str

    @property
    def fingerprint(self) -> str:
        """``ssh-keygen -lf``'s SHA256 fingerprint of the public key."""
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.path}.pub"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        return out.split()[1]


def keygen(
    directory: Path, name: str, key_type: str = "ed25519", bits: int | None = None
) -> ClientKey:
    """A fresh key pair in ``directory`` (mode 0600, no passphrase) made by ``ssh-keygen``."""
    path = Path(directory) / name
    args = ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", f"{name}@test", "-f", str(path)]
    if bits:
        args[4:4] = ["-b", str(bits)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return ClientKey(path, Path(f"{path}.pub").read_text().strip())


def add_backend(app: Any, sshd: Any, name: str = "web1") -> None:
    """Add ``sshd`` as server ``name``: a vault password credential, the key pinned up front."""
    import ocore_ssh
    import ocore_vault

    ocore_vault.credentials(app).put(f"{name}-pw", "password", sshd.password, username=sshd.user)
    key = sshd.host_public_keys["ed25519"]
    ocore_ssh.ssh(app).add(name, sshd.host, port=sshd.port, credential=f"{name}-pw", host_key=key)


class GatewayProcess:
    """``python -m ocore_flask gateway`` on a loopback port, driven by the OpenSSH client."""

    def __init__(self, env: dict[str, str], host_key_line: str, directory: Path) -> None:
        self.env = base_env(env)
        self.port = int(env["SSH_LISTEN_ADDR"].rsplit(":", 1)[1])
        self.directory = Path(directory)
        self.known_hosts = self.directory / "known_hosts"
        self.known_hosts.write_text(f"[{HOST}]:{self.port} {host_key_line}\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"GatewayProcess({HOST}:{self.port})"

    @property
    def output(self) -> str:
        """What the process printed so far."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def start(self, timeout: float = 30) -> GatewayProcess:
        """Start and wait until the port greets with the gateway's SSH banner."""
        self._log = tempfile.TemporaryFile(prefix="ocore-gateway-")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocore_flask", "gateway"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ocore gateway exited {self.proc.returncode}:\n{self.output}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-2.0-ocore_gateway"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"ocore gateway did not listen within {timeout}s:\n{self.output}")

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, wait, then SIGKILL; the exit status."""
        proc = self.proc
        if proc is None:
            return None
        return stop_process(proc, timeout)

    def ssh_options(self, key: ClientKey | Path) -> list[str]:
        """Options for ssh/sftp/scp: only this key, only the gateway's pinned host key."""
        path = key.path if isinstance(key, ClientKey) else key
        return [
            "-F",
            "/dev/null",
            "-i",
            str(path),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
        ]

    def ssh_argv(self, key: ClientKey | Path, target: str, *args: str) -> list[str]:
        """``ssh -p PORT … TARGET@127.0.0.1 ARGS``."""
        return ["ssh", "-p", str(self.port), *self.ssh_options(key), f"{target}@{HOST}", *args]

    def sftp(
        self, key: ClientKey | Path, target: str, batch: str, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``sftp -b -`` with ``batch`` commands through the gateway to ``target``."""
        argv = ["sftp", "-P", str(self.port), *self.ssh_options(key), "-b", "-", f"{target}@{HOST}"]
        return subprocess.run(
            argv, input=batch.encode(), capture_output=True, env=base_env(), timeout=timeout
        )

    def scp(
        self, key: ClientKey | Path, *paths: str, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``scp`` through the gateway; remote paths as ``TARGET@127.0.0.1:path``."""
        argv = ["scp", "-P", str(self.port), *self.ssh_options(key), *paths]
        return subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, env=base_env(), timeout=timeout
        )

    def ssh(
        self,
        key: ClientKey | Path,
        target: str,
        *args: str,
        options: Sequence[str] = (),
        stdin: bytes | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the real ``ssh`` through the gateway to ``target`` and wait for it."""
        argv = [
            "ssh",
            "-p",
            str(self.port),
            *self.ssh_options(key),
            *options,
            f"{target}@{HOST}",
            *args,
        ]
        return subprocess.run(
            argv,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=base_env(),
            timeout=timeout,
            check=False,
        )


@dataclass(frozen=True)
class GatewayUser:
    """A user with a registered key."""

    email: str
    role: str
    user: Any
    key: ClientKey


class GatewayUsers:
    """Creates users with ``ssh-keygen`` keys registered for the gateway."""

    def __init__(self, app: Any, directory: Path) -> None:
        self.app = app
        self.directory = Path(directory)

    def __call__(self, role: str = "viewer", email: str | None = None) -> GatewayUser:
        """A new user with ``role`` and an Ed25519 key registered in the gateway."""
        import ocore_gateway
        from ocore_auth.testing import create_user

        n = next(_serial)
        email = email or f"{role}{n}@example.com"
        user = create_user(self.app, email, role)
        key = keygen(self.directory, f"user{n}")
        ocore_gateway.gateway(self.app).add_key(email, key.public_line)
        return GatewayUser(email, role, user, key)


@pytest.fixture(scope="module")
def gateway_env(module_database_url: str) -> dict[str, str]:
    """A development environment with the gateway enabled on a free loopback port."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "HEALTH_CACHE_TTL": "0s",
        "LOG_LEVEL": "info",
        "DATABASE_URL": module_database_url,
        "DB_POOL_MIN_CONNS": "1",
        "DB_POOL_MAX_CONNS": "5",
        "SSH_ENCRYPTION_KEY": VAULT_KEY,
        "SSH_CONNECT_TIMEOUT": "5s",
        "SSH_GATEWAY_ENABLED": "true",
        "SSH_LISTEN_ADDR": f"{HOST}:{free_port(HOST)}",
        "SSH_GATEWAY_HEARTBEAT_INTERVAL": "1s",
        "SSH_GATEWAY_MAX_SESSIONS_PER_USER": "2",
        "SSH_GATEWAY_MAX_SESSIONS": "4",
        "SSH_GATEWAY_SHUTDOWN_TIMEOUT": "2s",
    }


def gateway_plugins() -> list[Any]:
    """The plugins a gateway app needs (the host orders them by ``requires``)."""
    import ocore_auth
    import ocore_database
    import ocore_gateway
    import ocore_ssh
    import ocore_vault

    return [
        ocore_database.plugin,
        ocore_auth.plugin,
        ocore_vault.plugin,
        ocore_ssh.plugin,
        ocore_gateway.plugin,
    ]


@pytest.fixture(scope="module")
def gateway_app(gateway_env: dict[str, str]) -> Iterator[Any]:
    """One app per module with the gateway and the plugins it requires."""
    from ocore_flask.app import close_app, create_app

    app = create_app(dict(gateway_env), gateway_plugins())
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def gateway(
    gateway_env: dict[str, str], gateway_app: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """A running ``ocore gateway`` on the module's database (its host key made first)."""
    import ocore_gateway

    info = ocore_gateway.gateway(gateway_app).host_keys.ensure()
    process = GatewayProcess(gateway_env, info.public_key, tmp_path_factory.mktemp("gateway"))
    process.start()
    try:
        yield process
    finally:
        process.stop()
        if process._log is not None:
            process._log.close()


@pytest.fixture(scope="module")
def backend(gateway_app: Any, sshd: Any) -> str:
    """The module's sshd added as managed server ``web1``; its name."""
    add_backend(gateway_app, sshd, "web1")
    return "web1"


@pytest.fixture(scope="module")
def gateway_users(gateway_app: Any, tmp_path_factory: pytest.TempPathFactory) -> GatewayUsers:
    """``gateway_users(role)``: users with registered keys in the module's app."""
    return GatewayUsers(gateway_app, tmp_path_factory.mktemp("keys"))
