"""What the pool is given and gives back: servers, their credentials and command results."""

from __future__ import annotations

from dataclasses import dataclass, field

import paramiko


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


def normalise_pin(line: str | None) -> str | None:
    """A pinned host-key line reduced to "type base64" (any comment dropped), or None."""
    if line is None:
        return None
    parts = line.split()
    return " ".join(parts[:2])
