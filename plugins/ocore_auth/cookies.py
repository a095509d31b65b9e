"""The session cookies for browser clients and the CSRF check that cookie authentication needs.

Three cookies: the access token (``HttpOnly``, sent to ``/api``), the refresh token
(``HttpOnly``, sent to ``/api/auth`` only) and a CSRF token that scripts of the page may read.
All are ``SameSite=Lax``, and ``Secure`` in the strict modes. A request authenticated by cookie
with an unsafe method (POST, PUT, PATCH, DELETE) must echo the CSRF cookie in the
``X-CSRF-Token`` header (double-submit): another site can make the browser send the cookies, but
cannot read them to copy one into a header. Bearer-token requests need no CSRF token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Request, Response

from ocore_auth.errors import Forbidden
from ocore_auth.tokens import Tokens

ACCESS_COOKIE = "ocore_access"
REFRESH_COOKIE = "ocore_refresh"
CSRF_COOKIE = "ocore_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACCESS_PATH = "/api"
REFRESH_PATH = "/api/auth"


def set_session_cookies(response: Response, tokens: Tokens, *, secure: bool) -> None:
    """Set the access, refresh and CSRF cookies on ``response``."""
    common = {"secure": secure, "samesite": "Lax"}
    response.set_cookie(
        ACCESS_COOKIE,
        tokens.access_token,
        max_age=tokens.expires_in,
        path=ACCESS_PATH,
        httponly=True,
        **common,
    )
    response.set_cookie(
        REFRESH_COOKIE,
        tokens.refresh_token,
        max_age=tokens.refresh_expires_in,
        path=REFRESH_PATH,
        httponly=True,
        **common,
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(24),
        max_age=tokens.refresh_expires_in,
        path="/",
        httponly=False,
        **common,
    )


def clear_session_cookies(response: Response, *, secure: bool) -> None:
    """Expire the three cookies (logout)."""
    for name, path in (
        (ACCESS_COOKIE, ACCESS_PATH),
        (REFRESH_COOKIE, REFRESH_PATH),
        (CSRF_COOKIE, "/"),
    ):
        response.delete_cookie(name, path=path, secure=secure, samesite="Lax", httponly=True)


def check_csrf(request: Request) -> None:
    """For a cookie-authenticated unsafe request: the header must echo the CSRF cookie."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise Forbidden(
            f"cookie-authenticated {request.method} needs the {CSRF_HEADER} header set to the "
            f"value of the {CSRF_COOKIE} cookie (or use an Authorization: Bearer token)"
        )
