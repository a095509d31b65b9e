"""Opening, host-key-checking and closing the pool's SSH connections (a base of SSHPool)."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Any

import paramiko
from fabric import Connection
from paramiko.ssh_exception import AuthenticationException, BadHostKeyException

from ..hostkeys import (
    HostKeyChanged,
    HostKeyNotPinned,
    OnPin,
    SSHError,
    host_key_changed,
    key_line,
    parse_key_line,
    prepare_client,
)
from .errors import AuthFailed, SSHConnectError
from .runner import PooledConnection, fabric_config
from .state import ServerState, Slot
from .targets import KeyAuth, PasswordAuth, SSHTarget, normalise_pin


class HostConnector:
    """How SSHPool opens one connection: credentials, host-key pinning, errors typed."""

    connect_timeout: float
    keepalive: int
    on_pin: OnPin | None
    password_needs_pin: bool
    _pin_lock: threading.Lock

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

    def _open(self, target: SSHTarget, server: ServerState, generation: int) -> Slot:
        """Open, authenticate and host-key-check one new connection, mapping errors to types."""
        pin = normalise_pin(target.pinned_host_key) or server.learned_pin
        if pin is None and self.password_needs_pin and isinstance(target.auth, PasswordAuth):
            # Refused before any socket is opened: no password goes to an unverified server.
            raise HostKeyNotPinned(server=target.name, address=f"{target.host}:{target.port}")
        conn = PooledConnection(
            target.host,
            user=target.username,
            port=target.port,
            config=fabric_config(),
            connect_kwargs=self._connect_kwargs(target),
            forward_agent=False,
        )
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
                raise SSHConnectError(
                    f"cannot connect to {where}: {reason}", server=target.name
                ) from None
            if isinstance(exc, paramiko.SSHException):
                raise SSHConnectError(
                    f"SSH handshake with {where} failed: {exc}", server=target.name
                ) from None
            raise
        return Slot(conn, generation, presented)

    def _pin_callback(self, server: ServerState) -> OnPin:
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

    def _close_slot(self, slot: Slot) -> None:
        self._close_conn(slot.conn)


def fetch_host_key(name: str, host: str, port: int, timeout: float) -> str:
    """The host key line ("type base64") server ``name`` presents: TCP, the SSH version
    exchange and the key exchange only, then close; no authentication is attempted."""
    where = f"server {name!r} ({host}:{port})"
    sock: socket.socket | None = None
    transport: paramiko.Transport | None = None
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
        transport = paramiko.Transport(sock)
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        return key_line(transport.get_remote_server_key())
    except (OSError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        raise SSHConnectError(f"cannot connect to {where}: {reason}", server=name) from None
    except paramiko.SSHException as exc:
        raise SSHConnectError(f"SSH handshake with {where} failed: {exc}", server=name) from None
    finally:
        if transport is not None:
            transport.close()
        if sock is not None:
            sock.close()
