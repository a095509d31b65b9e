"""SenderOptions and the TLS modes: how to reach the SMTP server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from .addresses import validate_address

TLSMode = Literal["auto", "starttls", "tls", "none"]
TLS_MODES: tuple[str, ...] = get_args(TLSMode)
# What a TLS mode means for one connection: see effective_tls_mode.
EffectiveTLS = Literal["implicit", "starttls", "opportunistic", "none"]

IMPLICIT_TLS_PORT = 465
SUBMISSION_PORT = 587


@dataclass(frozen=True, repr=False)
class SenderOptions:
    """How to reach the SMTP server; the plugin builds it from the ``SMTP_*`` settings.

    ``ca_file`` is an optional PEM file of extra trusted CA certificates, added to the system
    trust store (for a private CA, and for tests). ``strict`` is on in staging/production
    and, being the secure choice, is also the default.
    """

    host: str
    port: int
    from_addr: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TLSMode = "auto"
    verify: bool = True
    timeout: float = 10.0
    strict: bool = True
    ca_file: str | Path | None = None

    def __post_init__(self) -> None:
        """Reject impossible combinations early, with messages naming the field."""
        if not self.host or not isinstance(self.host, str):
            raise ValueError("SMTP host must be a non-empty string")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValueError(f"SMTP port must be an integer, got {self.port!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"SMTP port must be between 1 and 65535, got {self.port}")
        if self.tls not in TLS_MODES:
            raise ValueError(f"SMTP TLS mode must be one of {', '.join(TLS_MODES)}")
        if not self.timeout > 0:
            raise ValueError(f"SMTP timeout must be > 0 seconds, got {self.timeout!r}")
        if self.username and not self.password:
            raise ValueError("an SMTP username needs a password")
        if self.password and not self.username:
            raise ValueError("an SMTP password needs a username")
        if not (self.username or "").isascii() or not (self.password or "").isascii():
            # smtplib encodes AUTH as ASCII; fail here rather than with the secret in an error.
            raise ValueError("the SMTP username and password must be ASCII (smtplib AUTH)")
        validate_address(self.from_addr)

    def __repr__(self) -> str:
        password = "'***'" if self.password else "None"
        return (
            f"SenderOptions(host={self.host!r}, port={self.port!r}, "
            f"from_addr={self.from_addr!r}, username={self.username!r}, "
            f"password={password}, tls={self.tls!r}, verify={self.verify!r}, "
            f"timeout={self.timeout!r}, strict={self.strict!r}, ca_file={self.ca_file!r})"
        )

    __str__ = __repr__

    @property
    def has_credentials(self) -> bool:
        """True when AUTH will be attempted."""
        return bool(self.username and self.password)


def effective_tls_mode(tls: str, port: int) -> EffectiveTLS:
    """Resolve a TLS mode for one port: ``auto`` follows the port conventions (465, 587)."""
    if tls == "tls":
        return "implicit"
    if tls == "starttls":
        return "starttls"
    if tls == "none":
        return "none"
    if tls == "auto":
        if port == IMPLICIT_TLS_PORT:
            return "implicit"
        if port == SUBMISSION_PORT:
            return "starttls"
        return "opportunistic"
    raise ValueError(f"unknown SMTP TLS mode {tls!r}; expected one of {', '.join(TLS_MODES)}")
