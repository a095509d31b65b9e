"""The SSH service (the plugin's per-app state): servers, the vault, and one pool per app.

Every call reads the server row and its credential afresh (a private key is decrypted once per
stored version: the vault caches it), so a changed credential or a forgotten host key takes
effect on the next call; the pool keeps the connections, keyed by server name, and persists a
first-use host key through ``ServerStore.pin``. In the strict modes a password is sent only to
a pinned server: ``fetch_host_key`` + ``pin`` (``ocore ssh pin``) pin one without logging in.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from flask import Flask
from sqlalchemy import Engine

import ocore_database
import ocore_ssh
import ocore_vault
from ocore_flask.invocation import invoked
from ocore_flask.state import get_state
from ocore_ssh.hostkeys import SSHError, key_line
from ocore_ssh.pool import RunResult, SSHPool, SSHTarget, StreamResult, fetch_host_key
from ocore_ssh.servers import (
    CredentialUnusable,
    InvalidServer,
    Server,
    ServerStore,
    target_for,
)
from ocore_ssh.settings import SSHSettings
from ocore_vault import CredentialNotFound, VaultError

if TYPE_CHECKING:
    from collections.abc import Callable

    from fabric import Connection

    from ocore_ssh.pool.stream import Sink
    from ocore_vault import CredentialStore


def pool_options(settings: SSHSettings) -> dict[str, Any]:
    """``SSHPool`` keyword arguments from the plugin's settings section (durations in seconds)."""
    return {
        "max_per_host": settings.pool_max_per_host,
        "idle_timeout": settings.pool_idle_timeout.seconds,
        "connect_timeout": settings.connect_timeout.seconds,
        "command_timeout": settings.command_timeout.seconds,
        "keepalive": math.ceil(settings.keepalive.seconds),
        "acquire_timeout": settings.pool_acquire_timeout.seconds,
    }


def init_app(app: Flask, settings: SSHSettings) -> SSHService:
    """The app's SSH service over the shared engine and the vault; no connection opened yet."""
    return SSHService(
        ocore_database.engine(app),
        ocore_vault.credentials(app),
        password_needs_pin=get_state(app).config.mode.strict,
        **pool_options(settings),
    )


def close(app: Flask) -> None:
    """Close every pooled connection and stop the pool's reaper thread."""
    ocore_ssh.ssh(app).close()


@dataclass(frozen=True)
class CheckOutcome:
    """What ``ssh check`` found: timings, the key the server showed, whether it was pinned now.

    ``first_ms`` includes the server setting up the login session (OpenSSH does that on the
    first channel); ``reuse_ms`` is a command on the open connection: what pooling saves.
    """

    server: Server
    username: str
    connect_ms: float
    first_ms: float
    reuse_ms: float
    host_key: str
    pinned_now: bool


class SSHService:
    """Run commands on managed servers by name, through the pool, with vault credentials."""

    def __init__(self, engine: Engine, vault: CredentialStore, **pool_kwargs: Any) -> None:
        """Build the store over ``engine`` and a pool that pins first-use keys in it."""
        self.servers = ServerStore(engine)
        self.vault = vault
        self.pool = SSHPool(on_pin=self._on_pin, **pool_kwargs)
        self._lock = threading.Lock()
        # The pin each server had when this process last read or wrote it: a pin cleared by
        # another process (`ssh forget-host-key`) must also clear what the pool learned.
        self._pins: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"<SSHService max_per_host={self.pool.max_per_host}>"

    def add(
        self,
        name: str,
        host: str,
        *,
        credential: str,
        port: int = 22,
        username: str | None = None,
        host_key: str | None = None,
    ) -> Server:
        """Add a server whose credential exists and which has a username (its own or the
        credential's); ``host_key`` pins it up front."""
        try:
            info = self.vault.get(credential)
        except CredentialNotFound:
            raise CredentialUnusable(
                f"there is no credential named {credential!r} in the vault; store it first "
                f"(`{invoked('vault put')}`) or name an existing one",
                server=name,
            ) from None
        except VaultError as exc:
            raise CredentialUnusable(f"credential {credential!r}: {exc}", server=name) from None
        if not username and not info.username:
            raise InvalidServer(
                f"no username: credential {credential!r} stores none, so give one with --user",
                server=name,
            )
        return self.servers.add(
            name, host, credential=credential, port=port, username=username, host_key=host_key
        )

    def target(self, name: str) -> SSHTarget:
        """The pool target for server ``name``: row, credential and pin read now."""
        server = self.servers.get(name)
        with self._lock:
            known = self._pins.get(name)
            self._pins[name] = server.host_key
        if server.host_key is None and known is not None:
            self.pool.forget_host_key(name)
        return target_for(server, self.vault)

    def run(self, name: str, command: str, timeout: float | None = None) -> RunResult:
        """Run ``command`` on server ``name``; the remote exit status is returned, not raised."""
        return self.pool.run(self.target(name), command, timeout)

    def stream(
        self,
        name: str,
        command: str,
        *,
        stdout: Sink | None = None,
        stdin: BinaryIO | None = None,
        timeout: float | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> StreamResult:
        """Run ``command`` on server ``name`` streaming bytes: its stdout into ``stdout`` (a
        binary file object) and ``stdin`` into its input, neither held in memory.

        Returns the exit status and stderr's tail (a non-zero exit is not raised); the timeout
        (default SSH_COMMAND_TIMEOUT) kills the remote command (``CommandTimeout``); an error
        of ``stdout`` or ``stdin`` kills it too and propagates unchanged; ``on_progress`` is
        called with the bytes streamed so far."""
        return self.pool.stream(
            self.target(name),
            command,
            stdout=stdout,
            stdin=stdin,
            timeout=timeout,
            on_progress=on_progress,
        )

    @contextmanager
    def connection(self, name: str) -> Iterator[Connection]:
        """Borrow a pooled fabric Connection to server ``name``."""
        with self.pool.connection(self.target(name)) as conn:
            yield conn

    def check(self, name: str) -> CheckOutcome:
        """Connect (pinning the host key on first use), run ``true`` twice, time each step.

        From the CLI the connection is always new; in a process whose pool already holds one,
        ``connect_ms`` is just the time to borrow it.
        """
        before = self.servers.get(name)
        target = self.target(name)
        started = time.perf_counter()
        with self.pool.connection(target) as conn:
            connected = time.perf_counter()
            presented = key_line(conn.transport.get_remote_server_key())
        first = self._true(target)
        reused = self._true(target)
        after = self.servers.get(name)
        return CheckOutcome(
            server=after,
            username=target.username,
            connect_ms=(connected - started) * 1000,
            first_ms=first,
            reuse_ms=reused,
            host_key=presented,
            pinned_now=before.host_key is None and after.host_key is not None,
        )

    def _true(self, target: SSHTarget) -> float:
        """Run ``true`` through the pool; its duration in milliseconds, or an SSHError."""
        result = self.pool.run(target, "true")
        if not result.ok:
            raise SSHError(
                f"`true` exited with status {result.exit_status} on server {target.name!r}: "
                f"{(result.stderr or result.stdout).strip()[:200]}",
                server=target.name,
            )
        return result.duration * 1000

    def fetch_host_key(self, name: str) -> tuple[Server, str]:
        """Server ``name`` and the host key line it presents now, read without logging in."""
        server = self.servers.get(name)
        line = fetch_host_key(server.name, server.host, server.port, self.pool.connect_timeout)
        return server, line

    def pin(self, name: str, line: str) -> bool:
        """Pin ``line`` as server ``name``'s host key: True if pinned now, False if it already
        was; a different pinned key raises HostKeyChanged."""
        pinned = self.servers.pin(name, line)
        with self._lock:
            self._pins[name] = line
        return pinned

    def forget_host_key(self, name: str) -> str | None:
        """Clear the pin in the database and in this pool; return the key that was pinned."""
        old = self.servers.forget(name)
        with self._lock:
            self._pins[name] = None
        self.pool.forget_host_key(name)
        return old

    def delete(self, name: str) -> bool:
        """Delete server ``name`` and retire its idle connections."""
        deleted = self.servers.delete(name)
        with self._lock:
            self._pins.pop(name, None)
        self.pool.forget_host_key(name)
        return deleted

    def close(self) -> None:
        """Close every pooled connection and the pool's reaper thread."""
        self.pool.close()

    def _on_pin(self, name: str, line: str) -> None:
        self.pin(name, line)
