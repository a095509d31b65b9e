"""One push over HTTPS (``http.client``, certificates verified) to ``/api/agents/push``.

Plain ``http://`` is accepted for loopback addresses only (a backend on the same host, or a
test); redirects are never followed, so the token only ever goes to the URL given.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PUSH_PATH = "/api/agents/push"
INTERVAL_HEADER = "X-Agent-Interval"


class ConfigError(ValueError):
    """A bad ``--url`` or ``--ca-file``: the agent cannot start."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Target:
    """Where pushes go: scheme, host, port and the push path."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """The backend's base URL (``https://ocore.example.com``) or the full push URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"--url must be an https:// URL of the ocore backend, not {url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ConfigError("--url must not carry credentials, a query or a fragment")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ConfigError(
                "--url must use https:// (plain http:// is allowed for loopback addresses only)"
            )
        base = parts.path.rstrip("/")
        path = base if base.endswith(PUSH_PATH) else base + PUSH_PATH
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, path)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying TLS context: the system's CAs, or only those of ``ca_file``."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--ca-file {ca_file}: {exc}") from None


@dataclass(frozen=True)
class Answer:
    """What the server said: the status, the interval it wants, its Retry-After, a message."""

    status: int
    interval: float | None = None
    retry_after: float | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """The push was stored (204)."""
        return self.status == 204


def _seconds(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < 10**7 else None


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        detail = data.get("errors") or data.get("message") or ""
        return json.dumps(detail)[:500] if not isinstance(detail, str) else detail[:500]
    return ""


def push(
    target: Target,
    token: str,
    body: dict[str, Any],
    context: ssl.SSLContext,
    timeout: float = 10.0,
) -> Answer:
    """POST ``body``; OSError (network, TLS verification) and HTTPException propagate."""
    data = json.dumps(body, separators=(",", ":")).encode()
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        conn.request(
            "POST",
            target.path,
            body=data,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "User-Agent": f"ocore-agent/{body.get('version', '?')}",
            },
        )
        response = conn.getresponse()
        raw = response.read(64 * 1024)
    finally:
        conn.close()
    return Answer(
        response.status,
        _seconds(response.getheader(INTERVAL_HEADER)),
        _seconds(response.getheader("Retry-After")),
        "" if response.status == 204 else _message(raw),
    )
