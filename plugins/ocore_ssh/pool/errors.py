"""The pool's SSHError subclasses: connect, auth, exhaustion, timeouts and lost connections."""

from __future__ import annotations

from ..hostkeys import SSHError


class SSHConnectError(SSHError):
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
