"""The gateway plugin's settings: whether it runs, where it listens, its limits and timers.

``SSH_LISTEN_ADDR`` is Go-style ``host:port``: ``:2222`` listens on every interface (the seed's
default, right inside a container whose port 2222 is published), ``127.0.0.1:2222`` on loopback
only, ``[::1]:2222`` on IPv6 loopback. Development defaults to loopback, as ``SERVER_HOST``
does: a laptop running ``ocore dev`` does not offer its managed servers to the network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ocore_flask.config import (
    Check,
    Context,
    CrossRule,
    Duration,
    Kind,
    PerMode,
    kinds,
    parse_duration,
    section,
    setting,
    settings_of,
)

DEFAULT_PORT = 2222
_HOST = kinds.hostname()
_PORT = kinds.port()


@dataclass(frozen=True)
class ListenAddress:
    """Where the gateway listens: ``host`` "" means every interface."""

    host: str
    port: int

    @property
    def all_interfaces(self) -> bool:
        """Whether the address is ``:port`` (every interface)."""
        return self.host == ""

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def parse_listen_address(raw: str) -> ListenAddress:
    """``host:port`` / ``:port`` / ``[v6]:port`` (as Go's ``net.Listen``) to a ListenAddress."""
    text = raw.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError("an IPv6 address goes in brackets with a port: [::1]:2222")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError("must be host:port or :port (every interface), e.g. :2222")
        if ":" in host:
            raise ValueError("an IPv6 address goes in brackets: [::1]:2222")
    try:
        number = _PORT.parse(port)
    except ValueError:
        raise ValueError(
            f"the port must be a number from 1 to 65535, e.g. :{DEFAULT_PORT}"
        ) from None
    if host in ("", "*"):
        return ListenAddress("", number)
    try:
        parsed = _HOST.parse(host)
    except ValueError:
        raise ValueError(
            "the host must be a host name or IP address, e.g. 127.0.0.1:2222"
        ) from None
    if ":" in parsed:
        ipaddress.IPv6Address(parsed)
    return ListenAddress(parsed, number)


LISTEN_ADDRESS = Kind(
    "listen address", "host:port, or :port for every interface", parse_listen_address
)


def _at_most(limit: str) -> Check:
    """A duration no longer than ``limit``: anything longer is a typo, not a policy."""
    bound = parse_duration(limit)

    def test(value: Duration, _: Context) -> str | None:
        return f"must be at most {limit} (it is {value})" if value > bound else None

    return Check(f"at most {limit}", test)


def _at_least(floor: str, *, zero_ok: bool = False) -> Check:
    """A duration of at least ``floor`` (or 0, meaning off, when ``zero_ok``)."""
    bound = parse_duration(floor)

    def test(value: Duration, _: Context) -> str | None:
        if value < bound and not (zero_ok and value == 0):
            return f"must be {'0 (off) or ' if zero_ok else ''}at least {floor}"
        return None

    return Check(f"{'0 or ' if zero_ok else ''}at least {floor}", test)


@section
class GatewaySettings:
    """The SSH gateway: switch, listen address, login rules, session limits, heartbeat."""

    enabled: bool = setting(
        "SSH_GATEWAY_ENABLED",
        kinds.boolean(),
        "Run the built-in SSH gateway (`ocore gateway`, and `ocore dev` starts it): users "
        "`ssh -p 2222 SERVER@host` with a registered public key, proxied to managed servers.",
        default="false",
        example="true",
    )

    listen: ListenAddress = setting(
        "SSH_LISTEN_ADDR",
        LISTEN_ADDRESS,
        "Address of the SSH gateway, Go-style host:port; ':2222' is every interface "
        "(the default outside development), development defaults to loopback.",
        default=PerMode(development=f"127.0.0.1:{DEFAULT_PORT}", strict=f":{DEFAULT_PORT}"),
        example=f":{DEFAULT_PORT}",
    )

    login_timeout: Duration = setting(
        "SSH_GATEWAY_LOGIN_TIMEOUT",
        kinds.duration(),
        "A client that has not logged in to the gateway within this time is disconnected.",
        default="30s",
        example="30s",
        checks=(_at_most("10m"),),
    )

    max_auth_tries: int = setting(
        "SSH_GATEWAY_MAX_AUTH_TRIES",
        kinds.integer(1, 100),
        "Refused public keys per connection before the gateway disconnects (OpenSSH's "
        "MaxAuthTries).",
        default="6",
        example="6",
    )

    idle_timeout: Duration = setting(
        "SSH_GATEWAY_IDLE_TIMEOUT",
        kinds.duration(positive=False),
        "A gateway connection without data in either direction for this long is closed; 0 "
        "switches it off.",
        default="30m",
        example="30m",
        checks=(_at_least("1s", zero_ok=True), _at_most("24h")),
    )

    max_sessions_per_user: int = setting(
        "SSH_GATEWAY_MAX_SESSIONS_PER_USER",
        kinds.integer(1, 1000),
        "Most sessions (shells, commands, SFTP) one user may have open through the gateway.",
        default="10",
        example="10",
    )

    max_sessions: int = setting(
        "SSH_GATEWAY_MAX_SESSIONS",
        kinds.integer(1, 100_000),
        "Most sessions open through the gateway at once, all users together.",
        default="200",
        example="200",
    )

    heartbeat_interval: Duration = setting(
        "SSH_GATEWAY_HEARTBEAT_INTERVAL",
        kinds.duration(),
        "How often the gateway writes its heartbeat row; health calls it stale after 3 intervals.",
        default="5s",
        example="5s",
        checks=(_at_least("100ms"), _at_most("5m")),
    )

    shutdown_timeout: Duration = setting(
        "SSH_GATEWAY_SHUTDOWN_TIMEOUT",
        kinds.duration(positive=False),
        "On SIGTERM the gateway stops accepting and waits this long for open sessions to end "
        "before closing them.",
        default="10s",
        example="10s",
        checks=(_at_most("1h"),),
    )


SETTINGS = settings_of(GatewaySettings)


def _needs_encryption_key(ctx: Context) -> str | None:
    """The seed's rule: an enabled gateway needs an explicit SSH_ENCRYPTION_KEY (strict modes).

    SSH_ENCRYPTION_KEY is read, not listed in ``depends``: the vault already reports it as
    missing or invalid, and a rule that depends on it would then be skipped, exactly when the
    gateway's reason has to be named."""
    if ctx.values.get("SSH_GATEWAY_ENABLED") and ctx.values.get("SSH_ENCRYPTION_KEY") is None:
        return (
            "is true, and the SSH gateway needs a valid SSH_ENCRYPTION_KEY outside development: "
            "its host key and the server credentials it logs in with are encrypted with it. "
            "Set SSH_ENCRYPTION_KEY (openssl rand -base64 48) or SSH_GATEWAY_ENABLED=false"
        )
    return None


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule(
        "SSH_GATEWAY_ENABLED",
        ("SSH_GATEWAY_ENABLED",),
        "an enabled gateway needs SSH_ENCRYPTION_KEY (strict modes)",
        _needs_encryption_key,
        applies="strict",
    ),
)
