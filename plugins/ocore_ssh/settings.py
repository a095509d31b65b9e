"""The SSH plugin's settings: the pool's per-server cap and its timeouts."""

from __future__ import annotations

from ocore_flask.config import (
    Check,
    Context,
    Duration,
    kinds,
    parse_duration,
    section,
    setting,
    settings_of,
)

MAX_PER_HOST_LIMIT = 64


def _at_most(limit: str) -> Check:
    """A duration no longer than ``limit``: anything longer is a typo, not a policy."""
    bound = parse_duration(limit)

    def test(value: Duration, _: Context) -> str | None:
        if value > bound:
            return f"must be at most {limit} (it is {value})"
        return None

    return Check(f"at most {limit}", test)


def _keepalive(value: Duration, _: Context) -> str | None:
    """0 switches keepalives off; otherwise whole seconds (SSH keepalives tick per second)."""
    if value != 0 and (value < parse_duration("1s") or value % parse_duration("1s")):
        return "must be 0 (off) or a whole number of seconds, e.g. 30s"
    return None


@section
class SSHSettings:
    """The SSH plugin's settings: the pool's per-server cap and its timeouts."""

    pool_max_per_host: int = setting(
        "SSH_POOL_MAX_PER_HOST",
        kinds.integer(1, MAX_PER_HOST_LIMIT),
        "Most SSH connections kept open to one managed server (callers beyond it wait).",
        default="4",
        example="4",
    )

    pool_idle_timeout: Duration = setting(
        "SSH_POOL_IDLE_TIMEOUT",
        kinds.duration(),
        "An SSH connection unused for this long is closed.",
        default="5m",
        example="5m",
        checks=(_at_most("24h"),),
    )

    connect_timeout: Duration = setting(
        "SSH_CONNECT_TIMEOUT",
        kinds.duration(),
        "Timeout of one SSH connection attempt (TCP connect, handshake, authentication).",
        default="10s",
        example="10s",
        checks=(_at_most("5m"),),
    )

    command_timeout: Duration = setting(
        "SSH_COMMAND_TIMEOUT",
        kinds.duration(),
        "A remote command running longer than this is killed (default for every command).",
        default="60s",
        example="60s",
        checks=(_at_most("24h"),),
    )

    keepalive: Duration = setting(
        "SSH_KEEPALIVE",
        kinds.duration(positive=False),
        "Interval of SSH keepalive messages on open connections; 0 switches them off.",
        default="30s",
        example="30s",
        checks=(
            Check("0 or whole seconds >= 1s", _keepalive),
            _at_most("1h"),
        ),
    )

    pool_acquire_timeout: Duration = setting(
        "SSH_POOL_ACQUIRE_TIMEOUT",
        kinds.duration(),
        "How long a caller waits for a free connection when a server is at its cap.",
        default="10s",
        example="10s",
        checks=(_at_most("10m"),),
    )


SETTINGS = settings_of(SSHSettings)
