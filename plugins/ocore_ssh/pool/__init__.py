"""Pooled SSH connections to managed servers (fabric over paramiko).

Connections are reused per server (keyed by ``SSHTarget.name``) with a per-server cap, closed
after an idle timeout by a reaper thread, kept alive with SSH keepalives, and replaced
transparently when found dead. Credentials come only from the target (a password or an
in-memory key): keys are never read from disk or an agent, and no ssh_config or known_hosts
file is consulted. Host keys are pinned on the first authenticated connection and enforced
after (see ``hostkeys``); with ``password_needs_pin`` a password is sent to pinned servers only.
"""

from __future__ import annotations

from ..hostkeys import HostKeyChanged, HostKeyNotPinned, SSHError
from .connect import fetch_host_key
from .errors import (
    AuthFailed,
    CommandTimeout,
    ConnectionLost,
    PoolExhausted,
    SSHConnectError,
)
from .errors import PoolClosed as PoolClosed  # public, though never in __all__
from .pool import SSHPool
from .stream import StreamResult
from .targets import KeyAuth, PasswordAuth, RunResult, SSHTarget

__all__ = [
    "AuthFailed",
    "CommandTimeout",
    "SSHConnectError",
    "ConnectionLost",
    "HostKeyChanged",
    "HostKeyNotPinned",
    "KeyAuth",
    "PasswordAuth",
    "PoolExhausted",
    "RunResult",
    "SSHError",
    "SSHPool",
    "SSHTarget",
    "StreamResult",
    "fetch_host_key",
]
