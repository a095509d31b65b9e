"""Redaction: remove credentials from anything that leaves the process (health data, logs,
error messages)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

MASK = "***"

# Configured secrets shorter than this would mask ordinary words and numbers.
MIN_SECRET_LENGTH = 4

_SECRET_WORDS = r"password|passwd|pwd|secret|token|private[_-]?key|passphrase|api[_-]?key"  # noqa: S105

# Dict keys whose values are masked whole, e.g. "db_password", "HEALTH_CHECK_TOKEN", "apiKey".
_SECRET_KEY_RE = re.compile(rf"{_SECRET_WORDS}|authorization", re.IGNORECASE)

_PRIVATE_KEY_RE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----"
    r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*\Z)",  # an unterminated block runs to the end
    re.DOTALL,
)

# scheme://user:password@host; the password runs to the last "@" of the authority.
_URL_PASSWORD_RE = re.compile(r"(?P<head>://[^:/?#@\s]*:)(?P<pw>[^/?#\s]*)@")

_AUTHORIZATION_RE = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:bearer|basic|digest|token|negotiate)\s+)?)(?P<value>[^\s,;\"']+)",
    re.IGNORECASE,
)

_BEARER_RE = re.compile(r"(?P<head>\bbearer\s+)(?P<value>[A-Za-z0-9._~+/=-]+)", re.IGNORECASE)

# key=value or key: value pairs in free text, including JSON-ish "key": "value". Only the
# secret word and what follows it are matched (a prefix such as "db_" needs no matching).
_KEY_VALUE_RE = re.compile(
    rf"(?P<head>(?:{_SECRET_WORDS})[\w.-]*[\"']?\s*[:=]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s&;,\"']+)",
    re.IGNORECASE,
)


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Return ``value`` with credentials masked, recursing through mappings, lists and tuples."""
    return Scrubber(secrets).scrub(value)


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask credentials in one string."""
    return Scrubber(secrets).text(text)


def is_secret_key(key: str) -> bool:
    """Say whether a mapping key names a credential, so its whole value is masked."""
    return bool(_SECRET_KEY_RE.search(key))


def _query_pairs(query: str) -> list[tuple[str, str, str]]:
    """``(key, separator, value)`` of each ``&``-separated item, undecoded."""
    return [item.partition("=") for item in query.split("&")]


def redact_query(query: str) -> str:
    """A URL query string with the value of every secret-named key (``password``,
    ``sslpassword``, ``api_key``…: ``is_secret_key``) replaced by ***; the rest kept as is."""
    return "&".join(
        f"{key}={MASK}" if sep and is_secret_key(unquote_plus(key)) else key + sep + value
        for key, sep, value in _query_pairs(query)
    )


def secret_query_values(query: str) -> list[str]:
    """The values of the secret-named keys of a URL query string, as written and decoded
    (percent-decoding, and form decoding where ``+`` is a space), for the secret set."""
    found: list[str] = []
    for key, sep, value in _query_pairs(query):
        if sep and value and is_secret_key(unquote_plus(key)):
            found += dict.fromkeys((value, unquote(value), unquote_plus(value)))
    return found


class Scrubber:
    """Masks credentials; build one per set of secrets so their pattern is compiled once."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
                variants.add(secret)
                variants.add(quote(secret, safe=""))  # as it appears inside a URL
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(variants, key=len, reverse=True)
        self._secrets_re = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def scrub(self, value: Any) -> Any:
        """Return ``value`` with credentials masked, recursing through containers."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if isinstance(key, str):
                    masked = is_secret_key(key) and item is not None and not isinstance(item, bool)
                    out[self.text(key)] = MASK if masked else self.scrub(item)
                else:
                    out[key] = self.scrub(item)
            return out
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.scrub(item) for item in value)
        return value

    def text(self, text: str) -> str:
        """Mask credentials in one string."""
        if "PRIVATE KEY-----" in text:
            text = _PRIVATE_KEY_RE.sub(r"-----BEGIN \1PRIVATE KEY-----***", text)
        if self._secrets_re is not None:
            text = self._secrets_re.sub(MASK, text)
        if "://" in text:
            text = _URL_PASSWORD_RE.sub(r"\g<head>***@", text)
        text = _AUTHORIZATION_RE.sub(r"\g<head>***", text)
        text = _BEARER_RE.sub(r"\g<head>***", text)
        return _KEY_VALUE_RE.sub(_mask_value, text)


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    quote_char = value[0] if value[0] in "\"'" else ""
    return f"{match['head']}{quote_char}{MASK}{quote_char}"
