"""Value kinds shared by the host and plugins. Parse errors never quote the value (the loader
decides whether a value may be shown: never for secrets).

Integers, ranges, booleans and choices are parsed by marshmallow's own fields and validators
(what environs uses); the kinds add the operator-facing message (the rule and an example).
Durations, hosts, URLs, origins and lists are hand-written: Go's exact duration grammar, IPv6
literals, and origin/URL rules have no marshmallow equivalent with the same edge cases."""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import marshmallow as ma

from ocore_flask.config.declarations import Kind
from ocore_flask.config.durations import Duration, DurationError, parse_duration

_INT_RE = re.compile(r"[+-]?[0-9]+")
PLUGIN_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def text() -> Kind:
    """Free text on one line."""

    def parse(raw: str) -> str:
        if any(ch in raw for ch in "\r\n\x00"):
            raise ValueError("must be a single line (it contains a line break or NUL)")
        return raw

    return Kind("text", "text", parse)


def integer(minimum: int | None = None, maximum: int | None = None) -> Kind:
    """A whole number, optionally bounded."""
    bounds = _bounds_doc(minimum, maximum)
    field = ma.fields.Integer(strict=True, validate=ma.validate.Range(minimum, maximum))

    def parse(raw: str) -> int:
        if not _INT_RE.fullmatch(raw):  # marshmallow would take "4.0" or " 4"
            raise ValueError(f"must be a whole number{bounds}, e.g. {minimum or 0}")
        try:
            return field.deserialize(int(raw))
        except ma.ValidationError:
            raise ValueError(f"must be a whole number{bounds}") from None

    return Kind("integer", f"whole number{bounds}", parse)


def boolean() -> Kind:
    """true/false (also 1/0, yes/no, on/off), case-insensitive."""
    field = ma.fields.Boolean(truthy={"true", "1", "yes", "on"}, falsy={"false", "0", "no", "off"})

    def parse(raw: str) -> bool:
        try:
            return field.deserialize(raw.lower())
        except ma.ValidationError:
            raise ValueError("must be true or false") from None

    return Kind("bool", "true or false", parse, lambda v: "true" if v else "false")


def port() -> Kind:
    """A TCP port, 1 to 65535."""
    inner = integer(1, 65535)
    return Kind("port", "TCP port 1-65535", inner.parse)


def _bounds_doc(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def duration(*, positive: bool = True) -> Kind:
    """A Go duration (``time.ParseDuration``): 500ms, 30s, 15m, 1h30m."""
    hint = "a Go duration with a unit (ns, us, ms, s, m, h), e.g. 30s, 15m or 1h30m"

    def parse(raw: str) -> Duration:
        try:
            value = parse_duration(raw)
        except DurationError as exc:
            raise ValueError(f"must be {hint} ({_go_reason(exc)})") from None
        if positive and value <= 0:
            raise ValueError(f"must be greater than zero: {hint}")
        if value < 0:
            raise ValueError(f"must be zero or more: {hint}")
        return value

    return Kind("duration", "Go duration" + (" > 0" if positive else " >= 0"), parse, str)


def _go_reason(exc: DurationError) -> str:
    """Go's message without the quoted input (the caller decides whether values are shown)."""
    message = str(exc)
    return message.split(' "', 1)[0].split(" in duration", 1)[0]


def choice(*values: str, ignore_case: bool = False) -> Kind:
    """One of a fixed set of lowercase words; a near miss gets a "did you mean"."""
    listed = ", ".join(values)
    one_of = ma.validate.OneOf(values)

    def parse(raw: str) -> str:
        word = raw.lower() if ignore_case else raw
        try:
            return one_of(word)
        except ma.ValidationError:
            pass
        hint = did_you_mean(raw.lower(), values)
        suggestion = f"; did you mean {hint!r}?" if hint else ""
        raise ValueError(f"must be one of {listed}{suggestion}")

    return Kind("choice", "one of " + listed, parse)


def http_url() -> Kind:
    """An absolute http(s) URL."""

    def parse(raw: str) -> str:
        parts = _split_url(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an absolute http:// or https:// URL, e.g. https://ocore.example.com"
            )
        return raw.rstrip("/") if parts.path in ("", "/") else raw

    return Kind("url", "absolute http(s) URL", parse)


def origin() -> Kind:
    """A web origin: scheme, host and optional port, nothing else."""

    def parse(raw: str) -> str:
        parts = _split_url(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an origin like https://ocore.example.com (scheme and host)")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError("must be an origin only: no path, query, fragment or credentials")
        return f"{parts.scheme}://{parts.netloc}"

    return Kind("origin", "web origin (scheme://host[:port])", parse)


HOST_MESSAGE = "must be a host name or IP address, without scheme, port or path"


def hostname() -> Kind:
    """A DNS host name or IP address (no scheme, port or path)."""
    label = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

    def parse(raw: str) -> str:
        candidate = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
        if ":" in candidate:
            try:
                return str(ipaddress.IPv6Address(candidate))
            except ValueError:
                raise ValueError(HOST_MESSAGE) from None
        if len(candidate) > 253 or not all(
            label.match(p) for p in candidate.rstrip(".").split(".")
        ):
            raise ValueError(HOST_MESSAGE)
        return candidate.lower()

    return Kind("host", "host name or IP address", parse)


def names_list() -> Kind:
    """Comma-separated lowercase identifiers (plugin names)."""

    def parse(raw: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in raw.split(",") if part.strip())
        bad = [n for n in names if not PLUGIN_NAME_RE.match(n)]
        if bad:
            raise ValueError(
                f"must be comma-separated plugin names like 'mail,ssh'; not a name: {bad[0]!r}"
            )
        return names

    return Kind("names", "comma-separated names", parse, lambda v: ",".join(v))


def absolute_path() -> Kind:
    """An absolute file path on one line (nothing is read or created while parsing)."""
    inner = text()

    def parse(raw: str) -> str:
        inner.parse(raw)
        if not raw.startswith("/"):
            raise ValueError("must be an absolute path, e.g. /var/lib/ocore/fingerprint.key")
        return raw

    return Kind("path", "absolute file path", parse)


def secret_list() -> Kind:
    """Comma-separated secrets (for example decrypt-only previous keys)."""

    def parse(raw: str) -> tuple[str, ...]:
        items = tuple(part.strip() for part in raw.split(",") if part.strip())
        return items

    return Kind("secrets", "comma-separated secrets", parse, lambda v: ",".join(v))


def _split_url(raw: str):
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("is not a valid URL (check the host and port)") from None
    return parts


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest candidate to ``word``, prefix matches first (``prod`` → ``production``)."""
    options = list(candidates)
    prefixed = [c for c in options if word and c.startswith(word)]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return close[0] if close else None
