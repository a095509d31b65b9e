"""SSHPool: connections reused per server, capped, reaped when idle, replaced when dead."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import paramiko
from fabric import Connection
from invoke.exceptions import CommandTimedOut, ThreadException

from ..hostkeys import OnPin, SSHError
from .connect import HostConnector
from .errors import CommandTimeout, ConnectionLost, PoolClosed, PoolExhausted
from .runner import transport_alive
from .state import ServerState, Slot
from .stream import Streamer
from .targets import PasswordAuth, RunResult, SSHTarget, normalise_pin


def _sanitise(message: str, target: SSHTarget) -> str:
    """Make an error message safe for health output: no secrets, one line, bounded length."""
    if isinstance(target.auth, PasswordAuth) and target.auth.password:
        message = message.replace(target.auth.password, "***")
    message = re.sub(r"\s+", " ", message).strip()
    return message[:500]


def _same_login(a: SSHTarget, b: SSHTarget) -> bool:
    return (a.host, a.port, a.username, a.auth) == (b.host, b.port, b.username, b.auth)


class SSHPool(HostConnector, Streamer):
    """Thread-safe pool of SSH connections, capped per server, reaped when idle."""

    def __init__(
        self,
        *,
        max_per_host: int = 4,
        idle_timeout: float = 300.0,
        connect_timeout: float = 10.0,
        keepalive: int = 30,
        acquire_timeout: float = 10.0,
        command_timeout: float = 60.0,
        on_pin: OnPin | None = None,
        password_needs_pin: bool = False,
    ) -> None:
        """``password_needs_pin``: refuse a password login to a server with no pinned key
        (``HostKeyNotPinned``), before connecting; key logins still pin on first use."""
        if max_per_host < 1:
            raise ValueError("max_per_host must be at least 1")
        for label, value in (
            ("idle_timeout", idle_timeout),
            ("connect_timeout", connect_timeout),
            ("acquire_timeout", acquire_timeout),
            ("command_timeout", command_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{label} must be positive")
        self.max_per_host = max_per_host
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.acquire_timeout = acquire_timeout
        self.command_timeout = command_timeout
        self.on_pin = on_pin
        self.password_needs_pin = password_needs_pin
        self._lock = threading.Lock()
        self._pin_lock = threading.Lock()
        self._servers: dict[str, ServerState] = {}
        self._failures = 0
        self._closed = False
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    # -- public API ---------------------------------------------------------------------------

    @contextmanager
    def connection(self, target: SSHTarget) -> Iterator[Connection]:
        """Borrow an open fabric Connection to ``target``; it returns to the pool afterwards."""
        slot = self._acquire(target)
        try:
            yield slot.conn
        finally:
            self._release(target.name, slot)

    def run(self, target: SSHTarget, command: str, timeout: float | None = None) -> RunResult:
        """Run ``command`` on ``target``; a non-zero exit is returned, never raised."""
        limit = self.command_timeout if timeout is None else timeout
        if limit <= 0:
            raise ValueError("timeout must be positive")
        for attempt in range(2):
            slot = self._acquire(target)
            sessions_before = slot.conn.sessions_opened
            started = time.monotonic()
            try:
                result = slot.conn.run(
                    command, timeout=limit, hide=True, warn=True, in_stream=False, pty=False
                )
            except CommandTimedOut as exc:
                raise CommandTimeout(
                    f"command on server {target.name!r} exceeded its {limit:g}s timeout "
                    "and was killed",
                    server=target.name,
                    timeout=limit,
                    stdout=exc.result.stdout,
                    stderr=exc.result.stderr,
                ) from None
            except (SSHError, paramiko.SSHException, EOFError, OSError, ThreadException) as exc:
                never_started = slot.conn.sessions_opened == sessions_before
                if transport_alive(slot.conn):
                    # e.g. the server refused a session channel; the connection itself is fine.
                    raise SSHError(
                        f"could not run the command on server {target.name!r}: {exc}",
                        server=target.name,
                    ) from exc
                if never_started and attempt == 0:
                    # The connection died before the command was sent: reconnect once.
                    self._record_failure(target, f"connection lost: {exc}", count=False)
                    continue
                error = ConnectionLost(
                    f"connection to server {target.name!r} ({target.address}) was lost "
                    f"{'before' if never_started else 'while'} running the command: {exc}",
                    server=target.name,
                )
                self._record_failure(target, str(error))
                raise error from exc
            finally:
                self._release(target.name, slot)
            if result.exited == -1 and not transport_alive(slot.conn):
                # paramiko reports -1 when the channel vanished without an exit status.
                error = ConnectionLost(
                    f"connection to server {target.name!r} ({target.address}) was lost "
                    "while running the command",
                    server=target.name,
                )
                self._record_failure(target, str(error))
                raise error
            return RunResult(
                exit_status=result.exited,
                stdout=result.stdout,
                stderr=result.stderr,
                duration=time.monotonic() - started,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def stats(self) -> dict[str, Any]:
        """Counts for health reports, no I/O: totals plus open/in_use/idle/last_error per server."""
        with self._lock:
            servers: dict[str, dict[str, Any]] = {}
            for name, server in self._servers.items():
                idle, busy = len(server.idle), len(server.busy)
                servers[name] = {
                    "open": idle + busy,
                    "in_use": busy,
                    "idle": idle,
                    "connecting": server.opening,
                    "failures": server.failures,
                    "last_error": server.last_error,
                    "last_error_at": (
                        datetime.fromtimestamp(server.last_error_at, UTC).isoformat()
                        if server.last_error_at is not None
                        else None
                    ),
                }
            return {
                "open": sum(s["open"] for s in servers.values()),
                "in_use": sum(s["in_use"] for s in servers.values()),
                "idle": sum(s["idle"] for s in servers.values()),
                "connection_failures": self._failures,
                "max_per_host": self.max_per_host,
                "closed": self._closed,
                "servers": servers,
            }

    def forget_host_key(self, name: str) -> None:
        """Drop the key this pool learned for ``name`` and its connections (after a re-pin)."""
        with self._lock:
            server = self._servers.get(name)
            if server is None:
                return
            server.learned_pin = None
            server.generation += 1
            stale, server.idle = server.idle, []
        for slot in stale:
            self._close_slot(slot)

    def reap_idle(self) -> int:
        """Close connections idle longer than idle_timeout (or found dead); return how many."""
        now = time.monotonic()
        doomed: list[Slot] = []
        with self._lock:
            for server in self._servers.values():
                keep = []
                for slot in server.idle:
                    expired = now - slot.last_used >= self.idle_timeout
                    if expired or not transport_alive(slot.conn):
                        doomed.append(slot)
                    else:
                        keep.append(slot)
                server.idle = keep
        for slot in doomed:
            self._close_slot(slot)
        return len(doomed)

    def close(self) -> None:
        """Close every connection (in-use ones too), stop the reaper and refuse further work."""
        with self._lock:
            self._closed = True
            doomed: list[Slot] = []
            for server in self._servers.values():
                doomed.extend(server.idle)
                doomed.extend(server.busy)
                server.idle = []
                server.cond.notify_all()
            reaper, self._reaper = self._reaper, None
        self._stop.set()
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join()
        for slot in doomed:
            self._close_slot(slot)

    def __enter__(self) -> SSHPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _server_for(self, target: SSHTarget, doomed: list[Slot]) -> ServerState:
        """Return the state for ``target.name``; a changed login retires old connections."""
        server = self._servers.get(target.name)
        if server is None:
            server = self._servers[target.name] = ServerState(target, self._lock)
        elif not _same_login(server.target, target):
            if (server.target.host, server.target.port) != (target.host, target.port):
                server.learned_pin = None
            server.target = target
            server.generation += 1
            doomed.extend(server.idle)
            server.idle = []
        return server

    def _take_idle(self, server: ServerState, target: SSHTarget, doomed: list[Slot]) -> Slot | None:
        """Pop the most recently used live idle connection that honours the target's pin."""
        pin = normalise_pin(target.pinned_host_key)
        while server.idle:
            slot = server.idle.pop()
            if not transport_alive(slot.conn) or (pin is not None and slot.host_key_line != pin):
                doomed.append(slot)
                continue
            return slot
        return None

    def _acquire(self, target: SSHTarget) -> Slot:
        deadline = time.monotonic() + self.acquire_timeout
        doomed: list[Slot] = []
        try:
            with self._lock:
                if self._closed:
                    raise PoolClosed("SSH pool is closed", server=target.name)
                self._ensure_reaper()
                server = self._server_for(target, doomed)
                while True:
                    slot = self._take_idle(server, target, doomed)
                    if slot is not None:
                        server.busy.add(slot)
                        return slot
                    if server.open_count < self.max_per_host:
                        server.opening += 1
                        generation = server.generation
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise PoolExhausted(
                            f"all {self.max_per_host} connections to server {target.name!r} "
                            f"stayed in use for {self.acquire_timeout:g}s",
                            server=target.name,
                        )
                    server.cond.wait(remaining)
                    if self._closed:
                        raise PoolClosed("SSH pool is closed", server=target.name)
        finally:
            for stale in doomed:
                self._close_slot(stale)

        try:
            slot = self._open(target, server, generation)
        except BaseException as exc:
            with self._lock:
                server.opening -= 1
                server.cond.notify()
            if isinstance(exc, SSHError):
                self._record_failure(target, str(exc))
            raise
        with self._lock:
            server.opening -= 1
            if not self._closed:
                server.busy.add(slot)
                return slot
        self._close_slot(slot)
        raise PoolClosed("SSH pool is closed", server=target.name)

    def _release(self, name: str, slot: Slot) -> None:
        keep = False
        with self._lock:
            server = self._servers[name]
            server.busy.discard(slot)
            keep = (
                not self._closed
                and slot.generation == server.generation
                and transport_alive(slot.conn)
            )
            if keep:
                slot.last_used = time.monotonic()
                server.idle.append(slot)
            server.cond.notify()
        if not keep:
            self._close_slot(slot)

    def _record_failure(self, target: SSHTarget, message: str, *, count: bool = True) -> None:
        with self._lock:
            server = self._servers.get(target.name)
            if count:
                self._failures += 1
            if server is None:
                return
            if count:
                server.failures += 1
            server.last_error = _sanitise(message, target)
            server.last_error_at = time.time()

    def _ensure_reaper(self) -> None:
        """Start the idle reaper on first use (caller holds the lock)."""
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(
                target=self._reap_loop, name="ocore-ssh-pool-reaper", daemon=True
            )
            self._reaper.start()

    def _reap_loop(self) -> None:
        interval = min(max(self.idle_timeout / 4, 0.05), 5.0)
        while not self._stop.wait(interval):
            with suppress(Exception):
                self.reap_idle()
