"""Host-key pinning for the SSH pool: trust the first key a server presents, then only that key.

A server without a pinned key is accepted once and its key is reported to ``on_pin`` (pin on
first use), except, where the pool is told so (the strict modes), for a password login: a
password is sent only to a pinned key (``HostKeyNotPinned``), and the pool's ``fetch_host_key``
reads a server's key without authenticating, for ``ocore ssh pin``. A pinned key is pre-loaded
into the paramiko client's host keys so paramiko itself compares it with the presented key
and refuses any other (``HostKeyChanged``). Keys are never read from or written to
``known_hosts`` files.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

import paramiko
from paramiko.pkey import UnknownKeyType
from paramiko.ssh_exception import BadHostKeyException

from ocore_flask.invocation import invoked

__all__ = [
    "HostKeyChanged",
    "HostKeyNotPinned",
    "OnPin",
    "PinOnFirstUse",
    "SSHError",
    "fingerprint",
    "host_key_changed",
    "host_key_name",
    "key_line",
    "parse_key_line",
    "prepare_client",
]

#: ``on_pin(server_name, key_line)``: persist the key a server presented on first contact.
OnPin = Callable[[str, str], None]


class SSHError(Exception):
    """Base of every error the SSH plugin raises; ``server`` names the managed server."""

    def __init__(self, message: str, *, server: str | None = None) -> None:
        super().__init__(message)
        self.server = server


class HostKeyChanged(SSHError):
    """The server presented a host key other than the pinned one (possible MITM or reinstall)."""

    def __init__(
        self,
        *,
        server: str,
        address: str,
        expected_fingerprint: str,
        presented_fingerprint: str,
        presented_key_line: str,
    ) -> None:
        self.address = address
        self.expected_fingerprint = expected_fingerprint
        self.presented_fingerprint = presented_fingerprint
        self.presented_key_line = presented_key_line
        super().__init__(
            f"Host key of server {server!r} ({address}) has changed: pinned "
            f"{expected_fingerprint}, presented {presented_fingerprint}. Refusing to connect: "
            "this is either a man-in-the-middle attack or the server got new host keys "
            "(reinstall). If the change is expected, re-pin deliberately: "
            f"`{invoked(f'ssh forget-host-key {server}')}`, then "
            f"`{invoked(f'ssh pin {server}')}` shows the new fingerprint to check out of band.",
            server=server,
        )


class HostKeyNotPinned(SSHError):
    """A password login to a server whose host key is not pinned (refused in strict modes)."""

    def __init__(self, *, server: str, address: str) -> None:
        self.address = address
        super().__init__(
            f"server {server!r} ({address}) has no pinned host key, and a password is sent "
            "only to a pinned server (ENVIRONMENT is not development: first-use pinning would "
            "hand the password to whoever answers first). Pin its key first: "
            f"`{invoked(f'ssh pin {server}')}` shows the key the server presents and pins it "
            f"once you confirm the fingerprint, or `{invoked(f'ssh remove {server}')}` and "
            f"add it again with its key: `{invoked(f'ssh add {server} … --host-key KEY')}`.",
            server=server,
        )


def key_line(key: paramiko.PKey) -> str:
    """Return the OpenSSH public key line ("type base64") that pins ``key``."""
    return f"{key.get_name()} {key.get_base64()}"


def parse_key_line(line: str) -> paramiko.PKey:
    """Parse an OpenSSH public key line ("type base64 [comment]") into a paramiko key."""
    parts = line.split()
    if len(parts) < 2:
        raise ValueError("expected an OpenSSH public key line: 'type base64'")
    key_type, data = parts[0], parts[1]
    try:
        blob = base64.b64decode(data, validate=True)
        key = paramiko.PKey.from_type_string(key_type, blob)
    except (binascii.Error, paramiko.SSHException, UnknownKeyType, ValueError) as exc:
        raise ValueError(f"invalid {key_type} public key: {exc}") from exc
    if key.get_name() != key_type:
        raise ValueError(f"key type {key_type!r} does not match the key data")
    return key


def fingerprint(key: paramiko.PKey | str) -> str:
    """Return the OpenSSH SHA256 fingerprint ("SHA256:...") of a key or key line."""
    if isinstance(key, str):
        key = parse_key_line(key)
    return key.fingerprint


def host_key_name(host: str, port: int) -> str:
    """Return the name paramiko files a host's keys under (``[host]:port`` unless port 22)."""
    return host if port == 22 else f"[{host}]:{port}"


class PinOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Accept an unpinned server's key and hand it to ``on_pin``; paramiko asks only then."""

    def __init__(self, server: str, on_pin: OnPin | None) -> None:
        self.server = server
        self.on_pin = on_pin

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey):
        """Record the first key seen; an exception from ``on_pin`` refuses the connection."""
        if self.on_pin is not None:
            self.on_pin(self.server, key_line(key))


def prepare_client(
    client: paramiko.SSHClient,
    *,
    server: str,
    host: str,
    port: int,
    pinned: str | None,
    on_pin: OnPin | None,
) -> None:
    """Make ``client`` trust exactly ``pinned`` for host:port, or pin on first use if None."""
    # Only the pin counts: forget anything loaded from known_hosts files.
    client.get_host_keys().clear()
    client._system_host_keys.clear()  # no public accessor; fabric never loads it, be sure
    if pinned is not None:
        try:
            key = parse_key_line(pinned)
        except ValueError as exc:
            raise SSHError(f"pinned host key of server {server!r} is invalid: {exc}") from exc
        client.get_host_keys().add(host_key_name(host, port), key.get_name(), key)
    client.set_missing_host_key_policy(PinOnFirstUse(server, on_pin))


def host_key_changed(exc: BadHostKeyException, *, server: str, address: str) -> HostKeyChanged:
    """Turn paramiko's mismatch exception into a ``HostKeyChanged`` naming the server."""
    return HostKeyChanged(
        server=server,
        address=address,
        expected_fingerprint=exc.expected_key.fingerprint,
        presented_fingerprint=exc.key.fingerprint,
        presented_key_line=key_line(exc.key),
    )
