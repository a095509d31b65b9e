"""The managed server behind a gateway session: its row and vault credential (read in a worker
thread), and the asyncssh client connection that trusts exactly its pinned host key.

Every refusal is a ``BackendError`` whose message is fit for the SSH client (one line, no
credential, no traceback); the gateway logs the detail.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from ocore_flask.invocation import invoked
from ocore_vault import CredentialKind, CredentialNotFound, VaultError

log = logging.getLogger("ocore_gateway")

KEY_CACHE_LIMIT = 256
#: AES-GCM first (OpenSSL speed in asyncssh), then what any sshd offers.
BACKEND_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)


class BackendError(Exception):
    """The session cannot reach its server; the message is shown to the SSH client."""


@dataclass(frozen=True)
class Target:
    """A managed server as the proxy connects to it (the secret stays out of ``repr``)."""

    name: str
    host: str
    port: int
    username: str
    pinned: str
    password: str | None = field(default=None, repr=False)
    key: asyncssh.SSHKey | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"


class Targets:
    """Builds ``Target``s from the SSH plugin's servers and the vault (blocking: run in a
    worker thread); decrypted private keys are kept per stored credential version."""

    def __init__(self, servers: Any, vault: Any) -> None:
        """``servers``: the SSH plugin's ServerStore; ``vault``: the CredentialStore."""
        self.servers = servers
        self.vault = vault
        self._keys: dict[tuple[Any, int], asyncssh.SSHKey] = {}

    def __repr__(self) -> str:
        return f"<Targets cached_keys={len(self._keys)}>"

    def resolve(self, name: str) -> Target:
        """The target for server ``name``: pinned key and credential, or a BackendError."""
        try:
            server = self.servers.get(name)
        except LookupError:
            raise BackendError(f"there is no server named {name!r}") from None
        if not server.host_key:
            raise BackendError(
                f"server {name!r} has no pinned host key yet, so the gateway will not log in to "
                f"it; an operator pins it first: `{invoked(f'ssh pin {name}')}`"
            )
        try:
            credential = self.vault.get(server.credential)
            username = server.username or credential.username
            if credential.kind is CredentialKind.PASSWORD:
                secret: dict[str, Any] = {"password": credential.secret()}
            else:
                secret = {"key": self._key(credential)}
        except CredentialNotFound:
            log.warning("gateway: server %s: credential %r is missing", name, server.credential)
            raise BackendError(
                f"server {name!r} has no usable credential in the vault (see the gateway log)"
            ) from None
        except (VaultError, asyncssh.KeyImportError, ValueError) as exc:
            log.warning(
                "gateway: server %s: credential %r unusable: %s", name, server.credential, exc
            )
            raise BackendError(
                f"server {name!r} has no usable credential in the vault (see the gateway log)"
            ) from None
        if not username:
            raise BackendError(f"server {name!r} has no login name (neither it nor its credential)")
        return Target(name, server.host, server.port, username, server.host_key, **secret)

    def _key(self, credential: Any) -> asyncssh.SSHKey:
        cached = self._keys.get((credential.id, credential.version))
        if cached is None:
            cached = asyncssh.import_private_key(credential.secret(), credential.passphrase())
            if len(self._keys) >= KEY_CACHE_LIMIT:
                self._keys.clear()
            self._keys[(credential.id, credential.version)] = cached
        return cached


class _Client(asyncssh.SSHClient):
    """Tells the gateway connection when its backend connection is gone."""

    def __init__(self, on_lost: Callable[[], None]) -> None:
        self.on_lost = on_lost

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost()


async def connect(
    target: Target, *, timeout: float, keepalive: float, on_lost: Callable[[], None]
) -> asyncssh.SSHClientConnection:
    """Log in to ``target`` trusting only its pinned key; a BackendError says why not."""
    pinned = asyncssh.import_public_key(target.pinned)
    options: dict[str, Any] = {
        "username": target.username,
        "known_hosts": ([pinned], [], []),
        "config": None,
        "agent_path": None,
        "agent_forwarding": False,
        "gss_host": None,
        "x509_trusted_certs": None,
        "connect_timeout": timeout,
        "login_timeout": timeout,
        "keepalive_interval": keepalive,
        "client_factory": lambda: _Client(on_lost),
        "encryption_algs": BACKEND_CIPHERS,
    }
    if target.key is not None:
        options.update(client_keys=[target.key], preferred_auth="publickey")
    else:
        options.update(
            client_keys=None,
            password=target.password,
            preferred_auth="password,keyboard-interactive",
        )
    where = f"server {target.name!r} ({target.address})"
    try:
        return await asyncssh.connect(target.host, target.port, **options)
    except asyncssh.HostKeyNotVerifiable:
        presented = await _presented(target, pinned.get_algorithm(), timeout)
        raise BackendError(
            f"the host key of {where} is not the pinned one ({pinned.get_fingerprint('sha256')}"
            f"{', it presented ' + presented if presented else ''}): refusing to connect. Either "
            "someone is in the middle or the server got new host keys; if that is expected, an "
            f"operator re-pins it: `{invoked(f'ssh forget-host-key {target.name}')}`, then "
            f"`{invoked(f'ssh pin {target.name}')}`"
        ) from None
    except asyncssh.PermissionDenied:
        raise BackendError(
            f"{where} refused the stored credential of user {target.username!r}; an operator "
            f"checks it: `{invoked(f'ssh check {target.name}')}`"
        ) from None
    except (TimeoutError, OSError) as exc:
        reason = os.strerror(exc.errno) if exc.errno else (exc.strerror or "timed out")
        raise BackendError(f"cannot reach {where}: {reason}") from None
    except asyncssh.Error as exc:
        raise BackendError(f"the SSH login to {where} failed: {exc.reason}") from None


async def _presented(target: Target, algorithm: str, timeout: float) -> str | None:
    """The fingerprint of the key the server shows now (for the refusal message), or None."""
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(
                target.host, target.port, server_host_key_algs=[algorithm]
            ),
            timeout,
        )
    except (TimeoutError, OSError, asyncssh.Error):
        return None
    return key.get_fingerprint("sha256") if key is not None else None
