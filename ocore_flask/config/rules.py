"""Reusable single-value rules. Each message says what is wrong and how to fix it, and never
quotes a secret."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ocore_flask.config.declarations import Check, Context
from ocore_flask.config.durations import Duration, parse_duration

GENERATE_HINT = "generate one with: openssl rand -base64 48"
_PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "replace",
    "placeholder",
    "your-secret",
    "yoursecret",
    "secret-here",
    "example",
    "xxxxxxxx",
    "todo",
    "fixme",
    "dummy",
    "insecure",
    "password",
)
MIN_DISTINCT = 10


def min_length(n: int, *, applies: str = "all", fix: str = GENERATE_HINT) -> Check:
    """At least ``n`` characters."""

    def test(value: str, _: Context) -> str | None:
        if len(value) < n:
            return f"must be at least {n} characters (it has {len(value)}); {fix}"
        return None

    return Check(f"at least {n} characters", test, applies=applies)  # type: ignore[arg-type]


def strong_secret(*, fix: str = GENERATE_HINT) -> Check:
    """Strict modes: reject placeholders and low-entropy values (few distinct characters)."""

    def test(value: str, _: Context) -> str | None:
        lowered = value.lower()
        if (value.startswith("<") and value.endswith(">")) or any(
            word in lowered for word in _PLACEHOLDER_WORDS
        ):
            return f"looks like a placeholder, not a real secret; {fix}"
        if len(set(value)) < MIN_DISTINCT:
            return (
                f"is too predictable ({len(set(value))} distinct characters, at least "
                f"{MIN_DISTINCT} needed); {fix}"
            )
        return None

    return Check("no placeholders or low-entropy values", test, applies="strict")


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` names this machine (localhost or a loopback address)."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is a literal IP address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def not_loopback_url(what: str) -> Check:
    """Strict modes warn when a URL still points at this machine (a development default)."""

    def test(value: str, _: Context) -> str | None:
        if is_loopback_host(urlsplit(value).hostname):
            return f"points at localhost in a strict mode; set it to {what}"
        return None

    return Check("warn on localhost", test, level="warning", applies="strict")


def https_only(what: str) -> Check:
    """Strict modes require https (loopback hosts only warn: browsers treat them as secure)."""

    def test(value: str, _: Context) -> str | None:
        parts = urlsplit(value)
        if parts.scheme == "https" or is_loopback_host(parts.hostname):
            return None
        return f"must use https in staging/production; set it to {what}"

    return Check("https", test, applies="strict")


def duration_between(low: str, high: str) -> Check:
    """A duration from ``low`` to ``high`` (Go durations): outside that it is a typo, not a
    policy."""
    lower, upper = parse_duration(low), parse_duration(high)

    def test(value: Duration, _: Context) -> str | None:
        if not lower <= value <= upper:
            return f"must be from {low} to {high} (it is {value})"
        return None

    return Check(f"from {low} to {high}", test)
