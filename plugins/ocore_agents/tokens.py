"""Agent tokens: ``oca_`` + 256 random bits (URL-safe base64), stored only as SHA-256.

A token is looked up by its hash through a unique index, never compared as text: what the
lookup's timing could reveal is about a SHA-256 digest of the guess, not about any stored
token, so it gives an attacker nothing to converge on (the classic constant-time concern).
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "oca_"
RANDOM_BYTES = 32  # 256 bits
TOKEN_RE = re.compile(rf"{PREFIX}[A-Za-z0-9_-]{{43}}")
TOKEN_CHARS = len(PREFIX) + 43


def new_token() -> str:
    """A fresh agent token, shown once to the operator."""
    return PREFIX + secrets.token_urlsafe(RANDOM_BYTES)


def well_formed(token: str | None) -> bool:
    """Whether ``token`` has the shape of an agent token (anything else is refused unread)."""
    return token is not None and len(token) == TOKEN_CHARS and TOKEN_RE.fullmatch(token) is not None


def token_hash(token: str) -> bytes:
    """What the database stores and looks up: the token's SHA-256 digest."""
    return hashlib.sha256(token.encode("ascii")).digest()
