"""Access tokens (JWT, HS256 with ``JWT_SECRET``, PyJWT) and opaque refresh tokens.

An access token carries ``sub`` (the user id), ``jti``, ``sid`` (its session: the refresh
family), ``typ`` (``access``), ``role``, ``iat``
and ``exp`` with ``exp - iat`` exactly ``JWT_ACCESS_EXPIRY`` (whole seconds, at least one).
Verification accepts only HS256 (``alg: none`` and every other algorithm are refused), requires
every claim, refuses a future ``iat``, and tries ``JWT_SECRET`` then ``JWT_SECRET_PREVIOUS``,
so the secret can be rotated without logging anyone out.

A refresh token is ``ocr_`` + 256 random bits; only its SHA-256 is stored (it has full entropy,
so a slow hash would add nothing).
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

ALGORITHM = "HS256"
ACCESS = "access"
REQUIRED_CLAIMS = ("sub", "jti", "sid", "typ", "role", "iat", "exp")
REFRESH_PREFIX = "ocr_"
VERIFIED_CACHE = 4096  # tokens per process
MAX_TOKEN_LENGTH = 4096  # an access token here is ~250 characters; longer is refused unparsed


class TokenInvalid(Exception):
    """Why a presented token is refused (a short reason, never the token)."""


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: int
    role: str
    jti: str
    session: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class Tokens:
    """What a login or a refresh returns (and sets as cookies)."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int

    def body(self) -> dict[str, object]:
        """The JSON answer: OAuth 2's field names."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }

    def __repr__(self) -> str:
        return f"Tokens(expires_in={self.expires_in})"  # never the tokens themselves


def whole_seconds(duration_seconds: float) -> int:
    """A lifetime in whole seconds, rounded up, at least one."""
    return max(1, math.ceil(duration_seconds))


class AccessTokens:
    """Issues and verifies access tokens with the current and (optionally) previous secret."""

    def __init__(self, secret: str, previous: str | None, lifetime_s: float) -> None:
        self._keys = [secret.encode()] + ([previous.encode()] if previous else [])
        self.lifetime = whole_seconds(lifetime_s)
        # A client sends the same token until it expires: verify each once per process (the
        # expiry is still checked on every use). Only good tokens are cached; failures raise.
        self._verified = functools.lru_cache(maxsize=VERIFIED_CACHE)(self._verify)

    def __repr__(self) -> str:
        return f"AccessTokens(lifetime={self.lifetime}s, keys={len(self._keys)})"

    def issue(
        self, user_id: int, role: str, session: str, now: float | None = None
    ) -> tuple[str, int]:
        """A new access token for ``user_id`` in ``session`` (the refresh family) and its
        ``exp`` (seconds since the epoch)."""
        iat = int(time.time() if now is None else now)
        exp = iat + self.lifetime
        claims = {
            "sub": str(user_id),
            "jti": uuid.uuid4().hex,
            "sid": session,
            "typ": ACCESS,
            "role": role,
            "iat": iat,
            "exp": exp,
        }
        return jwt.encode(claims, self._keys[0], algorithm=ALGORITHM), exp

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid access token, else ``TokenInvalid`` with the reason."""
        claims = self._verified(token)
        if claims.expires_at <= time.time():
            raise TokenInvalid("token expired")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise TokenInvalid("not an access token")
        claims = None
        for key in self._keys:
            try:
                claims = jwt.decode(
                    token, key, algorithms=[ALGORITHM], options={"require": list(REQUIRED_CLAIMS)}
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAlgorithmError:
                raise TokenInvalid(f"algorithm {_algorithm(token)!r} is not accepted") from None
            except jwt.ExpiredSignatureError:
                raise TokenInvalid("token expired") from None
            except jwt.ImmatureSignatureError:
                raise TokenInvalid("token issued in the future") from None
            except jwt.MissingRequiredClaimError as exc:
                raise TokenInvalid(f"token lacks the {exc.claim!r} claim") from None
            except jwt.PyJWTError:
                raise TokenInvalid("malformed token") from None
        if claims is None:
            raise TokenInvalid("bad signature")
        if claims["typ"] != ACCESS:
            raise TokenInvalid("not an access token")
        try:
            user_id = int(claims["sub"])
        except (TypeError, ValueError):
            raise TokenInvalid("bad subject") from None
        return AccessClaims(
            user_id,
            str(claims["role"]),
            str(claims["jti"]),
            str(claims["sid"]),
            claims["iat"],
            claims["exp"],
        )


def _algorithm(token: str) -> str:
    """The ``alg`` a token's header names (for the refusal message only), bounded."""
    try:
        return str(jwt.get_unverified_header(token).get("alg"))[:16]
    except jwt.PyJWTError:
        return "?"


def new_refresh_token() -> str:
    """A fresh opaque refresh token (``ocr_`` + 43 base64url characters)."""
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def refresh_hash(token: str) -> bytes | None:
    """What is stored for a refresh token; None for something that cannot be one."""
    if not token.startswith(REFRESH_PREFIX) or len(token) > 128:
        return None
    return hashlib.sha256(token.encode()).digest()


def utc(timestamp: int) -> datetime:
    """A NumericDate as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)
