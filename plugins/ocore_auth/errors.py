"""The auth plugin's errors: each carries the HTTP status and headers an API answer needs, and
a message safe to show (never a token, password or hash)."""

from __future__ import annotations


class AuthError(Exception):
    """Base of the plugin's errors: ``status`` and ``headers`` for the API answer."""

    status = 400
    headers: dict[str, str] = {}

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or self.headers)


class Unauthenticated(AuthError):
    """No usable credentials: 401 with a Bearer challenge (RFC 6750)."""

    status = 401

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        challenge = 'Bearer realm="ocore"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(AuthError):
    """Authenticated, but the role is too low: 403."""

    status = 403


class Throttled(AuthError):
    """Too many failed logins: 429 with ``Retry-After`` (whole seconds)."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            f"too many failed logins: try again in {self.retry_after}s",
            headers={"Retry-After": str(self.retry_after)},
        )


class InvalidInput(AuthError):
    """A value breaks a rule (the password rule, an e-mail address, a role): 422 or exit 2."""

    status = 422


class UserNotFound(AuthError):
    """No user has that e-mail address."""

    status = 404


class UserExists(AuthError):
    """A user with that e-mail address already exists (compared case-insensitively)."""

    status = 409
