"""What a send or a probe reports, and the Trace callback that sees every step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Trace = Callable[[str, str], None]


@dataclass(frozen=True)
class SendResult:
    """What happened during one successful send, step by step."""

    host: str
    port: int
    tls: Literal["implicit", "starttls", "none"]
    tls_version: str | None
    certificate_verified: bool
    authenticated_as: str | None
    sender: str
    accepted: tuple[str, ...]
    message_id: str
    size: int
    reply: str
    elapsed: float
    steps: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ProbeResult:
    """What a probe (connect, EHLO, TLS as configured, NOOP; no AUTH, no mail) found."""

    host: str
    port: int
    tls: Literal["implicit", "starttls", "none"]
    tls_version: str | None
    certificate_verified: bool
    reply: str
    elapsed: float
    steps: tuple[tuple[str, str], ...]
