"""Pooled SSH connections to managed servers (fabric over paramiko).

Connections are reused per server (keyed by ``SSHTarget.name``) with a per-server cap, closed
after an idle timeout by a reaper thread, kept alive with SSH keepalives, and replaced
transparently when found dead. Credentials come only from the target (a password or an
in-memory key): keys are never read from disk or an agent, and no ssh_config or known_hosts
file is consulted. Host keys are pinned on the first authenticated connection and enforced
after (see ``hostkeys``).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paramiko
from fabric import Config, Connection
from fabric.runners import Remote
from invoke.exceptions import CommandTimedOut, ThreadException
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.ssh_exception import AuthenticationException, BadHostKeyException

from .hostkeys import (
    HostKeyChanged,
    OnPin,
    SSHError,
    host_key_changed,
    key_line,
    parse_key_line,
    prepare_client,
)

__all__ = [
    "AuthFailed",
    "CommandTimeout",
    "ConnectFailed",
    "ConnectionLost",
    "HostKeyChanged",
    "KeyAuth",
    "PasswordAuth",
    "PoolExhausted",
    "RunResult",
    "SSHError",
    "SSHPool",
    "SSHTarget",
]


# -- errors -----------------------------------------------------------------------------------


class ConnectFailed(SSHError):
    """The server could not be reached: refused, unreachable, timed out or no SSH handshake."""


class AuthFailed(SSHError):
    """The server rejected the credentials (wrong password or key)."""


class PoolExhausted(SSHError):
    """Every connection to the server stayed in use for the whole acquire timeout."""


class CommandTimeout(SSHError):
    """The remote command ran longer than its timeout; its channel was killed."""

    def __init__(self, message: str, *, server: str, timeout: float, stdout: str, stderr: str):
        super().__init__(message, server=server)
        self.timeout = timeout
        self.stdout = stdout
        self.stderr = stderr


class ConnectionLost(SSHError):
    """The connection died while a command was running; it may or may not have completed."""


class PoolClosed(SSHError):
    """The pool was closed and accepts no more work."""


# -- targets and results ----------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordAuth:
    """Log in with a password (held in memory only)."""

    password: str = field(repr=False)

    def __repr__(self) -> str:
        return "PasswordAuth(password='***')"


@dataclass(frozen=True)
class KeyAuth:
    """Log in with a private key already loaded in memory (decrypted by whoever loaded it)."""

    pkey: paramiko.PKey = field(repr=False)

    def __repr__(self) -> str:
        return f"KeyAuth({self.pkey.get_name()} {self.pkey.fingerprint})"


@dataclass(frozen=True)
class SSHTarget:
    """A managed server as the pool sees it; ``pinned_host_key`` is "type base64" or None."""

    name: str
    host: str
    port: int
    username: str
    auth: PasswordAuth | KeyAuth
    pinned_host_key: str | None = None

    @property
    def address(self) -> str:
        """``user@host:port``, for messages."""
        return f"{self.username}@{self.host}:{self.port}"


@dataclass(frozen=True)
class RunResult:
    """Outcome of one remote command; ``exit_status`` is -1 when killed by a signal."""

    exit_status: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        """Whether the command exited with status 0."""
        return self.exit_status == 0


# -- fabric plumbing --------------------------------------------------------------------------


class _SignallingRemote(Remote):
    """fabric's remote runner, but a timeout also signals the remote process group."""

    killed = False

    @property
    def timed_out(self) -> bool:
        """True once the timeout fired (invoke's own check races with a still-running kill)."""
        return self.killed or super().timed_out

    def wait(self) -> None:
        """Block until the command exits: woken by the exit status, not invoke's 10 ms polling."""
        channel = getattr(self, "channel", None)
        while not (self.process_is_finished or self.has_dead_threads):
            if channel is None:
                time.sleep(self.input_sleep)
            else:
                # Set by paramiko on exit-status and on close; the timeout re-checks threads.
                channel.status_event.wait(self.input_sleep)

    def kill(self) -> None:
        """Send SIGKILL to the remote command (RFC 4254 "signal"), then close the channel."""
        # Only invoke's timeout timer calls kill(); flag it before the command can finish.
        self.killed = True
        channel = getattr(self, "channel", None)
        if channel is None:
            return
        # paramiko has no public API for the "signal" request; OpenSSH >= 7.9 honours it for
        # command sessions, so the remote command does not outlive its timeout.
        with suppress(Exception):
            msg = paramiko.Message()
            msg.add_byte(cMSG_CHANNEL_REQUEST)
            msg.add_int(channel.remote_chanid)
            msg.add_string("signal")
            msg.add_boolean(False)
            msg.add_string("KILL")
            channel.transport._send_user_message(msg)
        with suppress(Exception):  # the transport may already be gone: nothing left to stop
            channel.close()


class _PooledConnection(Connection):
    """A fabric Connection that counts opened sessions and never reconnects on its own."""

    # Class-level declarations make these plain attributes (fabric proxies unknown ones to config).
    sessions_opened = 0
    opened_once = False

    def open(self) -> Any:
        """Connect once; after that a dead transport is the pool's business, not fabric's."""
        if self.is_connected:
            return None
        if self.opened_once:
            raise ConnectionLost("SSH connection is no longer active")
        self.opened_once = True
        return super().open()

    def create_session(self) -> paramiko.Channel:
        """Open a session channel, counting it (a failure before that means nothing ran)."""
        channel = super().create_session()
        self.sessions_opened += 1
        return channel


def _fabric_config() -> Config:
    """A fabric config that loads no files (ssh_config, fabric.yaml) and runs quietly."""
    return Config(
        lazy=True,
        ssh_config=paramiko.SSHConfig(),
        overrides={
            "load_ssh_configs": False,
            "forward_agent": False,
            "inline_ssh_env": True,
            "connect_kwargs": {},
            "authentication": {"strategy_class": None, "identities": []},
            "timeouts": {"connect": None, "command": None},
            "runners": {"remote": _SignallingRemote},
            "run": {"hide": True, "warn": True, "echo": False, "pty": False, "in_stream": False},
        },
    )


def _sanitise(message: str, target: SSHTarget) -> str:
    """Make an error message safe for health output: no secrets, one line, bounded length."""
    if isinstance(target.auth, PasswordAuth) and target.auth.password:
        message = message.replace(target.auth.password, "***")
    message = re.sub(r"\s+", " ", message).strip()
    return message[:500]


def _transport_alive(conn: Connection) -> bool:
    transport = conn.transport
    return transport is not None and transport.is_active()


# -- pool internals ---------------------------------------------------------------------------


class _Slot:
    """One pooled connection and its bookkeeping."""

    __slots__ = ("conn", "generation", "host_key_line", "last_used")

    def __init__(self, conn: _PooledConnection, generation: int, host_key_line: str) -> None:
        self.conn = conn
        self.generation = generation
        self.host_key_line = host_key_line
        self.last_used = time.monotonic()


class _Server:
    """Per-server state; guarded by the pool lock (``cond`` shares it)."""

    def __init__(self, target: SSHTarget, lock: threading.Lock) -> None:
        self.target = target
        self.generation = 0
        self.idle: list[_Slot] = []
        self.busy: set[_Slot] = set()
        self.opening = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.learned_pin: str | None = None
        self.cond = threading.Condition(lock)

    @property
    def open_count(self) -> int:
        return len(self.idle) + len(self.busy) + self.opening


def _same_login(a: SSHTarget, b: SSHTarget) -> bool:
    return (a.host, a.port, a.username, a.auth) == (b.host, b.port, b.username, b.auth)


def _normalise_pin(line: str | None) -> str | None:
    if line is None:
        return None
    parts = line.split()
    return " ".join(parts[:2])


class SSHPool:
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
    ) -> None:
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
        self._lock = threading.Lock()
        self._pin_lock = threading.Lock()
        self._servers: dict[str, _Server] = {}
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
                if _transport_alive(slot.conn):
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
            if result.exited == -1 and not _transport_alive(slot.conn):
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
        doomed: list[_Slot] = []
        with self._lock:
            for server in self._servers.values():
                keep = []
                for slot in server.idle:
                    expired = now - slot.last_used >= self.idle_timeout
                    if expired or not _transport_alive(slot.conn):
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
            doomed: list[_Slot] = []
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

    def _server_for(self, target: SSHTarget, doomed: list[_Slot]) -> _Server:
        """Return the state for ``target.name``; a changed login retires old connections."""
        server = self._servers.get(target.name)
        if server is None:
            server = self._servers[target.name] = _Server(target, self._lock)
        elif not _same_login(server.target, target):
            if (server.target.host, server.target.port) != (target.host, target.port):
                server.learned_pin = None
            server.target = target
            server.generation += 1
            doomed.extend(server.idle)
            server.idle = []
        return server

    def _take_idle(self, server: _Server, target: SSHTarget, doomed: list[_Slot]) -> _Slot | None:
        """Pop the most recently used live idle connection that honours the target's pin."""
        pin = _normalise_pin(target.pinned_host_key)
        while server.idle:
            slot = server.idle.pop()
            if not _transport_alive(slot.conn) or (pin is not None and slot.host_key_line != pin):
                doomed.append(slot)
                continue
            return slot
        return None

    def _acquire(self, target: SSHTarget) -> _Slot:
        deadline = time.monotonic() + self.acquire_timeout
        doomed: list[_Slot] = []
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

    def _release(self, name: str, slot: _Slot) -> None:
        keep = False
        with self._lock:
            server = self._servers[name]
            server.busy.discard(slot)
            keep = (
                not self._closed
                and slot.generation == server.generation
                and _transport_alive(slot.conn)
            )
            if keep:
                slot.last_used = time.monotonic()
                server.idle.append(slot)
            server.cond.notify()
        if not keep:
            self._close_slot(slot)

    def _connect_kwargs(self, target: SSHTarget) -> dict[str, Any]:
        """paramiko connect() options: only the target's credential, never disk or agent keys."""
        kwargs: dict[str, Any] = {
            "look_for_keys": False,
            "allow_agent": False,
            "timeout": self.connect_timeout,
            "banner_timeout": self.connect_timeout,
            "auth_timeout": self.connect_timeout,
            "channel_timeout": self.connect_timeout,
        }
        if isinstance(target.auth, PasswordAuth):
            kwargs["password"] = target.auth.password
        elif isinstance(target.auth, KeyAuth):
            kwargs["pkey"] = target.auth.pkey
        else:
            raise TypeError(f"unsupported auth for server {target.name!r}: {type(target.auth)}")
        return kwargs

    def _open(self, target: SSHTarget, server: _Server, generation: int) -> _Slot:
        """Open, authenticate and host-key-check one new connection, mapping errors to types."""
        conn = _PooledConnection(
            target.host,
            user=target.username,
            port=target.port,
            config=_fabric_config(),
            connect_kwargs=self._connect_kwargs(target),
            forward_agent=False,
        )
        pin = _normalise_pin(target.pinned_host_key) or server.learned_pin
        where = f"server {target.name!r} ({target.address})"
        first_seen: list[tuple[str, str]] = []
        try:
            prepare_client(
                conn.client,
                server=target.name,
                host=conn.host,
                port=conn.port,
                pinned=pin,
                on_pin=lambda name, line: first_seen.append((name, line)),
            )
            conn.open()
            # Pin on the first *successful* connection only: a failed login pins nothing.
            pin_now = self._pin_callback(server)
            for name, line in first_seen:
                pin_now(name, line)
            transport = conn.client.get_transport()
            # SSH packets are small and strictly request/response: without TCP_NODELAY, Nagle
            # plus delayed ACKs add ~40 ms to every channel open (OpenSSH's client sets it too).
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            presented = key_line(transport.get_remote_server_key())
            if self.keepalive:
                transport.set_keepalive(self.keepalive)
        except BaseException as exc:
            self._close_conn(conn)
            if isinstance(exc, SSHError):
                raise
            if isinstance(exc, BadHostKeyException):
                raise host_key_changed(
                    exc, server=target.name, address=f"{target.host}:{target.port}"
                ) from None
            if isinstance(exc, AuthenticationException):
                raise AuthFailed(
                    f"authentication failed for {where}: {exc}", server=target.name
                ) from None
            if isinstance(exc, OSError | EOFError):  # refused, unreachable, socket timeouts
                reason = str(exc) or type(exc).__name__
                raise ConnectFailed(
                    f"cannot connect to {where}: {reason}", server=target.name
                ) from None
            if isinstance(exc, paramiko.SSHException):
                raise ConnectFailed(
                    f"SSH handshake with {where} failed: {exc}", server=target.name
                ) from None
            raise
        return _Slot(conn, generation, presented)

    def _pin_callback(self, server: _Server) -> OnPin:
        """Wrap ``on_pin`` so concurrent first contacts pin once and must agree on the key."""

        def pin(name: str, line: str) -> None:
            with self._pin_lock:
                learned = server.learned_pin
                if learned is not None:
                    if learned == line:
                        return
                    raise HostKeyChanged(
                        server=name,
                        address=f"{server.target.host}:{server.target.port}",
                        expected_fingerprint=parse_key_line(learned).fingerprint,
                        presented_fingerprint=parse_key_line(line).fingerprint,
                        presented_key_line=line,
                    )
                if self.on_pin is not None:
                    try:
                        self.on_pin(name, line)
                    except Exception as exc:
                        raise SSHError(
                            f"could not pin the host key of server {name!r}: {exc}", server=name
                        ) from exc
                server.learned_pin = line

        return pin

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

    @staticmethod
    def _close_conn(conn: Connection) -> None:
        """Close a connection and wait briefly for its transport thread, leaking nothing."""
        transport = conn.client.get_transport()
        with suppress(Exception):
            conn.close()
        with suppress(Exception):
            conn.client.close()  # also when fabric thinks it is already closed
        if transport is not None:
            with suppress(Exception):
                transport.sock.close()
            if transport.is_alive() and transport is not threading.current_thread():
                transport.join(timeout=2.0)

    def _close_slot(self, slot: _Slot) -> None:
        self._close_conn(slot.conn)
