"""``require(role=...)``: the one guard every plugin's API uses.

It accepts an access token as ``Authorization: Bearer …`` or, for browsers, the access cookie
(unsafe methods then also need the CSRF header). Missing, malformed, expired or revoked: 401
with ``WWW-Authenticate: Bearer``; a role too low: 403. The guarded view finds the caller with
``current_user()``. The OpenAPI document lists the security schemes and the 401/403 answers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

import ocore_auth
from ocore_auth.cookies import ACCESS_COOKIE, check_csrf
from ocore_auth.errors import Forbidden, Unauthenticated
from ocore_auth.schema import ROLES
from ocore_auth.service import Principal
from ocore_auth.users import check_role

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SCHEME = "bearerAuth"
COOKIE_SCHEME = "cookieAuth"
SECURITY_SCHEMES = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /api/auth/login (or /api/auth/refresh).",
    },
    COOKIE_SCHEME: {
        "type": "apiKey",
        "in": "cookie",
        "name": ACCESS_COOKIE,
        "description": "The access cookie set at login; unsafe methods also need X-CSRF-Token.",
    },
}
_G_KEY = "_ocore_principal"


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def authenticate_request() -> Principal:
    """The caller of the current request, else ``Unauthenticated``/``Forbidden``."""
    header = request.headers.get("Authorization")
    token = bearer_token(header)
    if token is None and header:
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    if token is None:
        token = request.cookies.get(ACCESS_COOKIE)
        if not token:
            raise Unauthenticated("authentication required: send a Bearer access token", error=None)
        check_csrf(request)
    return ocore_auth.auth().authenticate(token)


def require(role: str | None = None) -> Callable[[F], F]:
    """Decorate a view so that only a signed-in user with at least ``role`` reaches it
    (roles ascend viewer < operator < admin; None: any signed-in user)."""
    rank = ROLES.index(check_role(role)) if role else 0

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate_request()
            if ROLES.index(principal.role) < rank:
                raise Forbidden(f"this needs the {role} role; you are {principal.role}")
            setattr(g, _G_KEY, principal)
            return view(*args, **kwargs)

        _document(guarded, role)
        return guarded  # type: ignore[return-value]

    return decorate


def current_user() -> Principal:
    """The caller of a view guarded by ``require`` (RuntimeError elsewhere)."""
    principal = getattr(g, _G_KEY, None)
    if principal is None:
        raise RuntimeError("current_user() is only available in a view guarded by require()")
    return principal


def _document(view: Callable[..., Any], role: str | None) -> None:
    """What flask-smorest's ``Blueprint.doc`` would record: schemes and the 401/403 answers."""
    responses: dict[Any, Any] = {401: {"description": "Missing, invalid or expired token."}}
    if role:
        responses[403] = {"description": f"Needs the {role} role or higher."}
    apidoc = getattr(view, "_apidoc", {})
    manual = apidoc.setdefault("manual_doc", {})
    manual["security"] = [{BEARER_SCHEME: []}, {COOKIE_SCHEME: []}]
    manual.setdefault("responses", {}).update(responses)
    view._apidoc = apidoc  # type: ignore[attr-defined]
