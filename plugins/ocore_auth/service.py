"""The auth service (the plugin's per-app state): logins, sessions, access-token checks, users.

Access tokens are checked without I/O (signature, expiry) plus what this process knows of the
user, re-read at most every ``AUTH_USER_CACHE_TTL``: the user's current role (a demotion applies
within that time, whatever role the token names), whether they are disabled, and
``tokens_valid_after`` (tokens issued before a password change or ``users revoke`` are refused).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Flask

import ocore_database
from ocore_auth.errors import InvalidInput, Throttled, Unauthenticated
from ocore_auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from ocore_auth.sessions import RefreshRefused, RefreshStore
from ocore_auth.settings import AuthSettings
from ocore_auth.throttle import Throttle
from ocore_auth.tokens import AccessTokens, TokenInvalid, Tokens, utc, whole_seconds
from ocore_auth.users import User, UserStore
from ocore_flask.state import get_state

LOGIN_FAILED = "wrong e-mail address or password"
CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their current role and when the presented token expires."""

    user_id: int
    email: str
    role: str
    expires_at: datetime


@dataclass(frozen=True)
class _Known:
    email: str
    role: str
    disabled: bool
    valid_after: int  # the second of the last revocation, since the epoch (0: none)


def init_app(app: Flask, settings: AuthSettings) -> AuthService:
    """The app's auth service over the shared engine (no I/O yet), its error answers and
    OpenAPI security schemes."""
    from ocore_auth import api  # the API side loads with the app, never for `config check`

    api.register(app)
    config = get_state(app).config
    return AuthService(
        ocore_database.engine(app),
        settings,
        secret=config.plain("JWT_SECRET"),
        secure_cookies=config.mode.strict,
    )


class AuthService:
    """Users, logins, refresh-token rotation and access-token checks."""

    def __init__(
        self, engine, settings: AuthSettings, *, secret: str, secure_cookies: bool
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.secure_cookies = secure_cookies
        previous = settings.secret_previous
        self.access = AccessTokens(
            secret, previous.reveal() if previous else None, settings.access_expiry.seconds
        )
        self.refresh_lifetime = whole_seconds(settings.refresh_expiry.seconds)
        self.users = UserStore(engine)
        self.sessions = RefreshStore(engine, settings.refresh_expiry.to_timedelta())
        self.throttle = Throttle(
            engine, settings.login_free_attempts, settings.login_max_delay.to_timedelta()
        )
        self._ttl = settings.user_cache_ttl.seconds
        self._known: dict[int, tuple[float, _Known | None]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<AuthService access={self.access.lifetime}s refresh={self.refresh_lifetime}s>"

    # -- logins and sessions -------------------------------------------------------------

    def login(self, email: str, password: str, address: str | None) -> Tokens:
        """Tokens for a right e-mail and password; ``Throttled`` or ``Unauthenticated`` else.
        An unknown address costs the same Argon2 work and gets the same answer."""
        wait = self.throttle.retry_after(email, address)
        if wait:
            raise Throttled(wait)
        user = self.users.find(email)
        if not verify_password(user.password_hash if user else None, password) or user is None:
            self.throttle.failed(email, address)
            raise Unauthenticated(LOGIN_FAILED, error=None)
        if user.disabled:
            self.throttle.failed(email, address)
            raise Unauthenticated("this account is disabled", error=None)
        self.throttle.succeeded(email)
        rehashed = hash_password(password) if needs_rehash(user.password_hash) else None
        self.users.logged_in(user.id, rehashed)
        return self.sign_in(user)

    def sign_in(self, user: User) -> Tokens:
        """A new session (refresh family) and access token for an authenticated user."""
        if user.disabled:
            raise Unauthenticated("this account is disabled", error=None)
        family, refresh = self.sessions.start(user.id)
        access, _ = self.access.issue(user.id, user.role, str(family))
        return Tokens(access, refresh, self.access.lifetime, self.refresh_lifetime)

    def refresh(self, token: str) -> Tokens:
        """Rotate a refresh token: new tokens, the old one dead (reuse revokes the family)."""
        try:
            rotation = self.sessions.rotate(token)
        except RefreshRefused as exc:
            raise Unauthenticated(str(exc)) from None
        user = self.users.get(rotation.user_id)
        if user is None or user.disabled:
            self.sessions.revoke(rotation.token)
            raise Unauthenticated("this account is disabled", error=None)
        access, _ = self.access.issue(user.id, user.role, str(rotation.family))
        return Tokens(access, rotation.token, self.access.lifetime, self.refresh_lifetime)

    def logout(self, token: str | None) -> bool:
        """Revoke the session of ``token``; whether one was found."""
        return bool(token) and self.sessions.revoke(token)

    # -- access tokens -------------------------------------------------------------------

    def authenticate(self, token: str) -> Principal:
        """The caller behind an access token, else ``Unauthenticated`` naming why."""
        try:
            claims = self.access.verify(token)
        except TokenInvalid as exc:
            raise Unauthenticated(str(exc)) from None
        known = self._user_state(claims.user_id)
        if known is None:
            raise Unauthenticated("the token's user no longer exists")
        if known.disabled:
            raise Unauthenticated("this account is disabled")
        if claims.issued_at < known.valid_after or (
            # Issued in the very second of a revocation: before or after it? Its session says.
            claims.issued_at == known.valid_after and self.sessions.family_revoked(claims.session)
        ):
            raise Unauthenticated("the session was revoked: log in again")
        return Principal(claims.user_id, known.email, known.role, utc(claims.expires_at))

    def _user_state(self, user_id: int) -> _Known | None:
        now = time.monotonic()
        cached = self._known.get(user_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        user = self.users.get(user_id)
        known = None
        if user is not None:
            after = int(user.tokens_valid_after.timestamp()) if user.tokens_valid_after else 0
            known = _Known(user.email, user.role, user.disabled, after)
        with self._lock:
            if len(self._known) >= CACHE_LIMIT:
                self._known.clear()
            self._known[user_id] = (now, known)
        return known

    def forget(self, user_id: int | None = None) -> None:
        """Drop what this process cached of a user (of every user: None)."""
        if user_id is None:
            self._known.clear()
        else:
            self._known.pop(user_id, None)

    # -- users ---------------------------------------------------------------------------

    def add_user(self, email: str, role: str, password: str) -> User:
        """A new user; the password must follow the rule."""
        _check_password(password)
        return self.users.create(email, role, hash_password(password))

    def set_password(self, email: str, password: str) -> User:
        """A new password; every session of the user ends."""
        _check_password(password)
        return self._changed(
            self.users.change(email, end_sessions=True, password_hash=hash_password(password))
        )

    def set_disabled(self, email: str, disabled: bool) -> User:
        """Disable (ending every session) or enable a user."""
        return self._changed(self.users.change(email, end_sessions=disabled, disabled=disabled))

    def set_role(self, email: str, role: str) -> User:
        """Change a user's role (their tokens carry the new one within the cache TTL)."""
        return self._changed(self.users.change(email, end_sessions=False, role=role))

    def revoke(self, email: str) -> User:
        """End every session of a user: refresh families revoked, access tokens refused."""
        return self._changed(self.users.change(email, end_sessions=True))

    def _changed(self, user: User) -> User:
        self.forget(user.id)
        return user


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem)
